import { AsyncLocalStorage } from 'node:async_hooks';
import type { Transaction } from 'kysely';
import type { Db, StoreContext } from './revision';
import { now, toNumber } from './rows';
import type { Database } from './schema';

// The audit log. A call that changes something runs inside an audit scope (the API's middleware opens
// one per call); every revision bump inside it writes the call's record in the bump's own transaction,
// so a change is never committed without its record. A call that bumps nothing (drain, invoke, a
// refusal) gets its record from the middleware when it ends.

/** What the middleware knows of the call, filled in as it learns (the actor once authenticated). */
export interface AuditScope {
  actor: string;
  peer: string;
  rpc: string;
  cluster: string;
  kind: string;
  name: string;
  traceId: string;
  /** Records written in a change's transaction (the middleware then writes none of its own). */
  written: number;
}

export const auditScope = new AsyncLocalStorage<AuditScope>();

export interface AuditRecordRow {
  id: number;
  at: string;
  actor: string;
  peer: string;
  rpc: string;
  cluster: string;
  kind: string;
  name: string;
  revisionBefore: number;
  revisionAfter: number;
  outcome: string;
  message: string;
  traceId: string;
}

/** Called by every revision bump: the record of the call under way, in the change's transaction. */
export async function auditBump(trx: Transaction<Database>, cluster: string, before: number, after: number): Promise<void> {
  const scope = auditScope.getStore();
  if (!scope) return;
  scope.written += 1;
  await trx
    .insertInto('audit_log')
    .values({
      at: now(),
      actor: scope.actor,
      peer: scope.peer,
      rpc: scope.rpc,
      cluster,
      kind: scope.kind,
      name: scope.name,
      revision_before: before,
      revision_after: after,
      outcome: 'OK',
      message: '',
      trace_id: scope.traceId,
    })
    .execute();
}

/** The record of a call that committed no revision (or was refused), written on its own. */
export async function writeAudit(ctx: StoreContext, scope: AuditScope, outcome: string, message: string): Promise<void> {
  let revision = 0;
  if (scope.cluster) {
    const row = await ctx.db.selectFrom('clusters').select('revision').where('name', '=', scope.cluster).executeTakeFirst();
    revision = row ? toNumber(row.revision) : 0;
  }
  await ctx.db
    .insertInto('audit_log')
    .values({
      at: now(),
      actor: scope.actor,
      peer: scope.peer,
      rpc: scope.rpc,
      cluster: scope.cluster,
      kind: scope.kind,
      name: scope.name,
      revision_before: revision,
      revision_after: revision,
      outcome,
      message: message.slice(0, 2000),
      trace_id: scope.traceId,
    })
    .execute();
}

/** Newest first; `beforeId` pages (the previous page's last id). */
export async function listAudit(
  db: Db,
  opts: { cluster?: string; since?: string; limit: number; beforeId?: number },
): Promise<AuditRecordRow[]> {
  let query = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(opts.limit);
  if (opts.cluster) query = query.where('cluster', '=', opts.cluster);
  if (opts.since) query = query.where('at', '>=', opts.since);
  if (opts.beforeId !== undefined) query = query.where('id', '<', opts.beforeId);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: toNumber(r.id),
    at: r.at,
    actor: r.actor,
    peer: r.peer,
    rpc: r.rpc,
    cluster: r.cluster,
    kind: r.kind,
    name: r.name,
    revisionBefore: toNumber(r.revision_before),
    revisionAfter: toNumber(r.revision_after),
    outcome: r.outcome,
    message: r.message,
    traceId: r.trace_id,
  }));
}
