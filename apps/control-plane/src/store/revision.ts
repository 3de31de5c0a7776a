import type { Kysely, Transaction } from 'kysely';
import { FailedPreconditionError, NotFoundError } from '../errors';
import { auditBump } from './audit-log';
import type { ChangeNotice } from './change-feed';
import type { StoreDialect } from './dialect';
import { toNumber } from './rows';
import type { Database } from './schema';

export type Db = Kysely<Database>;

/** What every part of the store works with: the database, its dialect, and this store's identity. */
export interface StoreContext {
  readonly db: Db;
  readonly dialect: StoreDialect;
  /** Tells this process's own change notices from other control planes' (see ChangeFeed). */
  readonly instanceId: string;
}

export interface ClusterRow {
  id: number;
  name: string;
  revision: number;
}

export function clusterNotFound(name: string): NotFoundError {
  return new NotFoundError('cluster', name, `cluster '${name}' does not exist: create it with CreateCluster`);
}

/** The cluster's row, unlocked. */
export async function findCluster(db: Db, name: string): Promise<ClusterRow> {
  const row = await db.selectFrom('clusters').select(['id', 'revision']).where('name', '=', name).executeTakeFirst();
  if (!row) throw clusterNotFound(name);
  return { id: row.id, name, revision: toNumber(row.revision) };
}

/**
 * Reads the cluster row and holds it until the transaction ends, so writers to one cluster take turns
 * and each sees the revision the previous one committed.
 *
 * It is also the write fence of mirroring: every change to a cluster's state takes this lock, so a
 * follower (which changes only by what it pulls from its source) and a source handing over to another
 * site refuse it here, under the lock, with FAILED_PRECONDITION naming the source. `fenced: false` is
 * for the mirror's own writes (a pulled change, a promotion, a step-down) and local ones (mirror tokens).
 */
export async function lockCluster(ctx: StoreContext, trx: Transaction<Database>, name: string, opts: { fenced?: boolean } = {}): Promise<ClusterRow> {
  const row = await ctx.dialect.lockClusterRow(trx, name);
  if (!row) throw clusterNotFound(name);
  if (opts.fenced !== false) {
    if (row.mirror_role === 'follower') {
      throw new FailedPreconditionError(
        `cluster '${name}' is a read-only follower of ${row.mirror_source}: make the change on the source (or promote this site with laneway mirror promote ${name})`,
      );
    }
    if (row.handover_until !== null && Date.parse(row.handover_until) > Date.now()) {
      throw new FailedPreconditionError(
        `cluster '${name}' is handing over to ${row.handover_to || 'its follower'} (a planned switchover): the change is refused, make it on the new source once the handover ends`,
      );
    }
  }
  return { id: row.id, name, revision: toNumber(row.revision) };
}

/** Moves the (locked) cluster to its next revision and announces it; returns the new revision. */
export async function bump(ctx: StoreContext, trx: Transaction<Database>, c: ClusterRow): Promise<number> {
  const revision = c.revision + 1;
  await trx.updateTable('clusters').set({ revision }).where('id', '=', c.id).execute();
  await announce(ctx, trx, c.name);
  // The call's audit record commits with the change, or not at all.
  await auditBump(trx, c.name, c.revision, revision);
  return revision;
}

/**
 * Tells the other control planes sharing this database that a cluster changed (or, with `server`,
 * that server's drain state), so that they push it to the servers they hold. Sent inside the
 * transaction: delivered on commit, and not at all on rollback (see StoreDialect.notify).
 */
export async function announce(ctx: StoreContext, trx: Transaction<Database>, cluster: string, server = ''): Promise<void> {
  const notice: ChangeNotice = { c: cluster, s: server, o: ctx.instanceId };
  await ctx.dialect.notify(trx, notice);
}

/** Runs reads that must agree with each other (the revision and the rows it describes) on one snapshot. */
export function snapshot<T>(ctx: StoreContext, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return ctx.dialect.snapshotTransaction(ctx.db).execute(fn);
}
