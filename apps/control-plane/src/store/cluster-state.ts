import { FailedPreconditionError } from '../errors';
import { resourceReader } from './queries';
import type { ChangeSet, ConfigWrite, ExportedState, Lane, ServiceWithCode } from './records';
import { specVersion, type ResourceCheck, type ResourceKind, type ResourceRecord, type ResourceRef } from './resources';
import { tombstoneResource, writeResource } from './resource-rows';
import { bump, findCluster, lockCluster, snapshot, type StoreContext } from './revision';
import { chunks, now, toNumber, toResourceRecord, toServiceRecord } from './rows';
import { checkConnectionsExist, insertVersions, makeCurrent } from './services';

// Reads and writes of a cluster's whole state, services and resources together: the change set a
// server syncs to, ApplyConfig's one-transaction write, and Export's one-snapshot read.

/** The cluster changed between planning an apply and writing it. */
export class ConcurrentChangeError extends FailedPreconditionError {
  constructor(cluster: string, expected: number, actual: number) {
    super(`cluster '${cluster}' changed while the apply was being planned (revision ${expected}, now ${actual}): apply again`, { cluster, expected, actual });
  }
}

export async function changesSince(ctx: StoreContext, cluster: string, sinceRevision: number): Promise<ChangeSet> {
  return snapshot(ctx, async (trx) => {
    const c = await findCluster(trx, cluster);
    // A revision ahead of ours means the server followed another database (or this one was reset):
    // a delta against it would be meaningless, so start it over from a full snapshot.
    const full = sinceRevision <= 0 || sinceRevision > c.revision;
    let query = trx
      .selectFrom('services as s')
      .leftJoin('service_versions as v', (join) =>
        join.onRef('v.cluster_id', '=', 's.cluster_id').onRef('v.name', '=', 's.name').onRef('v.version', '=', 's.version'),
      )
      .select(['s.name', 's.version', 's.lane', 's.path', 's.revision', 's.updated_at', 's.deleted', 'v.code', 'v.policy', 'v.connections'])
      .where('s.cluster_id', '=', c.id)
      .orderBy('s.name');
    query = full ? query.where('s.deleted', '=', 0) : query.where('s.revision', '>', sinceRevision);
    const rows = await query.execute();

    const services: ServiceWithCode[] = [];
    const removed: string[] = [];
    for (const row of rows) {
      if (row.deleted !== 0) {
        removed.push(row.name);
      } else if (row.code === null) {
        // Versions are never deleted while their cluster exists, so this is a damaged database.
        throw new Error(`service '${row.name}' version '${row.version}' has no stored code in cluster '${cluster}'`);
      } else {
        services.push({ ...toServiceRecord(row), code: row.code });
      }
    }
    let resourceQuery = trx
      .selectFrom('resources')
      .select(['kind', 'name', 'version', 'spec', 'revision', 'updated_at', 'deleted'])
      .where('cluster_id', '=', c.id)
      .orderBy('kind')
      .orderBy('name');
    resourceQuery = full ? resourceQuery.where('deleted', '=', 0) : resourceQuery.where('revision', '>', sinceRevision);
    const resources: ResourceRecord[] = [];
    const removedResources: ResourceRef[] = [];
    for (const row of await resourceQuery.execute()) {
      if (row.deleted !== 0) removedResources.push({ kind: row.kind as ResourceKind, name: row.name });
      else resources.push(toResourceRecord(row));
    }
    return { revision: c.revision, full, services, removed, resources, removedResources };
  });
}

/**
 * Applies a cluster's configuration in one transaction and, when anything differs, one revision:
 * service versions made current or undeployed, resources put or deleted. `expectedRevision` is the
 * revision the caller planned against: another change since then fails with ABORTED-like
 * {@link ConcurrentChangeError} (plan again). `check` runs after every write, inside the
 * transaction, so it sees the state that would commit; throwing rolls everything back.
 */
export async function applyConfig(ctx: StoreContext, cluster: string, write: ConfigWrite, expectedRevision: number, check: ResourceCheck): Promise<{ revision: number; changed: boolean }> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster);
    if (c.revision !== expectedRevision) throw new ConcurrentChangeError(cluster, expectedRevision, c.revision);
    const changed = write.services.length + write.removeServices.length + write.puts.length + write.deletes.length > 0;
    if (!changed) {
      await check(resourceReader(trx, c.id));
      return { revision: c.revision, changed: false };
    }
    const revision = await bump(ctx, trx, c);
    const at = now();
    await insertVersions(trx, c.id, write.services, at);
    await makeCurrent(trx, c.id, write.services, revision, at);
    for (const chunk of chunks(write.removeServices)) {
      await trx.updateTable('services').set({ deleted: 1, revision, updated_at: at }).where('cluster_id', '=', c.id).where('name', 'in', chunk).execute();
    }
    for (const put of write.puts) await writeResource(trx, c.id, put, specVersion(put.spec), revision, at);
    for (const ref of write.deletes) await tombstoneResource(trx, c.id, ref, revision, at);
    await checkConnectionsExist(trx, c.id, cluster, write.services);
    await check(resourceReader(trx, c.id));
    return { revision, changed: true };
  });
}

/**
 * Everything an export writes, read at one revision: current services with their sources, and every
 * live resource. Without `withSources` the services' texts are left out (empty): what a plan needs.
 */
export async function exportState(ctx: StoreContext, cluster: string, withSources = true): Promise<ExportedState> {
  return snapshot(ctx, async (trx) => {
    const c = await findCluster(trx, cluster);
    const services = await trx
      .selectFrom('services as s')
      .innerJoin('service_versions as v', (join) =>
        join.onRef('v.cluster_id', '=', 's.cluster_id').onRef('v.name', '=', 's.name').onRef('v.version', '=', 's.version'),
      )
      .select(['s.name', 's.version', 's.lane', 's.path', 's.revision'])
      .$if(withSources, (q) => q.select(['v.source', 'v.sources']))
      .where('s.cluster_id', '=', c.id)
      .where('s.deleted', '=', 0)
      .orderBy('s.name')
      .execute();
    const resources = await trx
      .selectFrom('resources')
      .select(['kind', 'name', 'version', 'spec', 'revision', 'updated_at'])
      .where('cluster_id', '=', c.id)
      .where('deleted', '=', 0)
      .orderBy('kind')
      .orderBy('name')
      .execute();
    return {
      revision: c.revision,
      services: services.map((row) => ({
        name: row.name,
        version: row.version,
        lane: row.lane as Lane,
        path: row.path,
        revision: toNumber(row.revision),
        source: row.source ?? '',
        sources: row.sources ? (JSON.parse(row.sources) as Record<string, string>) : {},
      })),
      resources: resources.map((row) => toResourceRecord(row)),
    };
  });
}
