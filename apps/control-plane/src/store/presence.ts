import { NotFoundError } from '../errors';
import type { Lane, ServerHello, ServerRecord, ServiceErrorRecord } from './records';
import { announce, findCluster, type ClusterRow, type StoreContext } from './revision';
import { chunks, now, toNumber } from './rows';

// The data-plane servers that follow a cluster: their hellos, ACKs and NACKs, drain state, and which
// control plane holds each one's stream.

/**
 * A control plane refreshes `last_seen` of the servers it holds every HOLDER_HEARTBEAT_MS; a holder
 * silent for HOLDER_TTL_MS (it died without saying so) no longer counts.
 */
export const HOLDER_HEARTBEAT_MS = 5000;
const HOLDER_TTL_MS = 15_000;

export async function recordServerHello(ctx: StoreContext, cluster: string, hello: ServerHello): Promise<void> {
  const c = await findCluster(ctx.db, cluster);
  await ctx.db
    .insertInto('servers')
    .values({
      cluster_id: c.id,
      name: hello.name,
      host: hello.host,
      pid: hello.pid,
      lanes: hello.lanes.join(','),
      applied_revision: hello.appliedRevision,
      last_seen: now(),
      last_nack: null,
      control_plane: ctx.instanceId,
      http_address: hello.httpAddress,
    })
    .onConflict((oc) =>
      oc.columns(['cluster_id', 'name']).doUpdateSet({
        host: hello.host,
        pid: hello.pid,
        lanes: hello.lanes.join(','),
        applied_revision: hello.appliedRevision,
        last_seen: now(),
        control_plane: ctx.instanceId,
        http_address: hello.httpAddress,
      }),
    )
    .execute();
}

/** An ACK (`nack` null) of `revision`, or a NACK of `revision` (the applied revision stays). */
export async function recordServerApplied(ctx: StoreContext, cluster: string, server: string, revision: number, nack: ServiceErrorRecord[] | null): Promise<void> {
  const c = await findCluster(ctx.db, cluster);
  // A nack leaves the applied revision alone: the server still runs what it last applied.
  const set =
    nack === null
      ? { applied_revision: revision, last_nack: null, last_nack_revision: 0, last_seen: now() }
      : { last_nack: JSON.stringify(nack), last_nack_revision: revision, last_seen: now() };
  await updateServer(ctx, c, cluster, server, set);
}

/**
 * ACKs of one revision by many servers in one statement (per chunk of names): a fleet ACKing a push
 * costs one write, not one per server. Answers how many rows it updated (fewer: a server unknown).
 */
export async function recordServersApplied(ctx: StoreContext, cluster: string, servers: readonly string[], revision: number): Promise<number> {
  const c = await findCluster(ctx.db, cluster);
  let updated = 0;
  for (const names of chunks(servers)) {
    const result = await ctx.db
      .updateTable('servers')
      .set({ applied_revision: revision, last_nack: null, last_nack_revision: 0, last_seen: now() })
      .where('cluster_id', '=', c.id)
      .where('name', 'in', names)
      .executeTakeFirst();
    updated += Number(result.numUpdatedRows);
  }
  return updated;
}

/** This control plane no longer holds the server's stream (it keeps its last-seen time). */
export async function releaseServer(ctx: StoreContext, cluster: string, server: string): Promise<void> {
  const c = await findCluster(ctx.db, cluster);
  await ctx.db
    .updateTable('servers')
    .set({ control_plane: null, last_seen: now() })
    .where('cluster_id', '=', c.id)
    .where('name', '=', server)
    .where('control_plane', '=', ctx.instanceId)
    .execute();
}

/** Keeps the servers this control plane holds fresh for the others (see HOLDER_HEARTBEAT_MS). */
export async function heartbeatServers(ctx: StoreContext, cluster: string, servers: readonly string[]): Promise<void> {
  if (servers.length === 0) return;
  const c = await findCluster(ctx.db, cluster);
  await ctx.db
    .updateTable('servers')
    .set({ last_seen: now(), control_plane: ctx.instanceId })
    .where('cluster_id', '=', c.id)
    .where('name', 'in', servers)
    .execute();
}

export async function listServers(ctx: StoreContext, cluster: string): Promise<ServerRecord[]> {
  const c = await findCluster(ctx.db, cluster);
  const rows = await ctx.db
    .selectFrom('servers')
    .select(['name', 'host', 'pid', 'lanes', 'applied_revision', 'last_seen', 'last_nack', 'last_nack_revision', 'drained', 'control_plane', 'http_address'])
    .where('cluster_id', '=', c.id)
    .orderBy('name')
    .execute();
  return rows.map((row) => ({
    name: row.name,
    host: row.host,
    pid: row.pid,
    lanes: row.lanes === '' ? [] : (row.lanes.split(',') as Lane[]),
    appliedRevision: toNumber(row.applied_revision),
    lastSeen: row.last_seen,
    // Rows written before resources existed hold { service, message } only.
    lastNack: row.last_nack === null ? [] : (JSON.parse(row.last_nack) as Partial<ServiceErrorRecord>[]).map((e) => ({ service: e.service ?? '', message: e.message ?? '', kind: e.kind ?? '' })),
    lastNackRevision: toNumber(row.last_nack_revision),
    drained: row.drained !== 0,
    httpAddress: row.http_address,
    controlPlane: row.control_plane ?? '',
    connectedElsewhere:
      ctx.dialect.shared &&
      row.control_plane !== null &&
      row.control_plane !== ctx.instanceId &&
      Date.now() - Date.parse(row.last_seen) < HOLDER_TTL_MS,
  }));
}

/** Forgets a server (its row, drain state included); the caller checked that it is not connected. */
export async function removeServer(ctx: StoreContext, cluster: string, server: string): Promise<void> {
  const c = await findCluster(ctx.db, cluster);
  const result = await ctx.db.deleteFrom('servers').where('cluster_id', '=', c.id).where('name', '=', server).executeTakeFirst();
  if (result.numDeletedRows === 0n) throw new NotFoundError('server', server, `server '${server}' has never joined cluster '${cluster}'`);
}

/** Marks a server drained (or not); NOT_FOUND when the server never said hello to the cluster. */
export async function setServerDrained(ctx: StoreContext, cluster: string, server: string, drained: boolean): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const c = await findCluster(trx, cluster);
    const result = await trx
      .updateTable('servers')
      .set({ drained: drained ? 1 : 0 })
      .where('cluster_id', '=', c.id)
      .where('name', '=', server)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      throw new NotFoundError('server', server, `server '${server}' has never joined cluster '${cluster}'`);
    }
    await announce(ctx, trx, cluster, server);
  });
}

export async function isServerDrained(ctx: StoreContext, cluster: string, server: string): Promise<boolean> {
  const c = await findCluster(ctx.db, cluster);
  const row = await ctx.db
    .selectFrom('servers')
    .select('drained')
    .where('cluster_id', '=', c.id)
    .where('name', '=', server)
    .executeTakeFirst();
  return row !== undefined && row.drained !== 0;
}

async function updateServer(
  ctx: StoreContext,
  c: ClusterRow,
  cluster: string,
  server: string,
  set: { applied_revision?: number; last_nack?: string | null; last_nack_revision?: number; last_seen: string },
): Promise<void> {
  const result = await ctx.db
    .updateTable('servers')
    .set(set)
    .where('cluster_id', '=', c.id)
    .where('name', '=', server)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) {
    throw new NotFoundError('server', server, `server '${server}' has not said hello to cluster '${cluster}'`);
  }
}
