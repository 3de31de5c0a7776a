import type { Transaction } from 'kysely';
import type { Db } from './revision';
import type { ResourceKind, ResourceReader } from './resources';
import { parseConnections, toResourceRecord } from './rows';
import type { Database } from './schema';

// Reads shared by services and resources: the live rows of a cluster, and the reader checks get.

/** Non-deleted services of a cluster with their version's policy and connections. */
export function currentServices(db: Db | Transaction<Database>, clusterId: number) {
  return db
    .selectFrom('services as s')
    .leftJoin('service_versions as v', (join) =>
      join.onRef('v.cluster_id', '=', 's.cluster_id').onRef('v.name', '=', 's.name').onRef('v.version', '=', 's.version'),
    )
    .select(['s.name', 's.version', 's.lane', 's.path', 's.revision', 's.updated_at', 'v.policy', 'v.connections', 'v.input_schema'])
    .where('s.cluster_id', '=', clusterId)
    .where('s.deleted', '=', 0);
}

/** Non-deleted resources of one kind in a cluster, by name. */
export function liveResources(db: Db | Transaction<Database>, clusterId: number, kind: ResourceKind) {
  return db
    .selectFrom('resources')
    .select(['kind', 'name', 'version', 'spec', 'revision', 'updated_at'])
    .where('cluster_id', '=', clusterId)
    .where('kind', '=', kind)
    .where('deleted', '=', 0)
    .orderBy('name');
}

/** What a ResourceCheck reads, inside the change's transaction. */
export function resourceReader(trx: Transaction<Database>, clusterId: number): ResourceReader {
  return {
    listResources: async <Spec>(kind: ResourceKind) =>
      (await liveResources(trx, clusterId, kind).execute()).map((r) => toResourceRecord<Spec>(r)),
    servicesUsingConnection: async (name: string) =>
      (await currentServices(trx, clusterId).orderBy('s.name').execute())
        .filter((row) => parseConnections(row.connections).includes(name))
        .map((row) => row.name),
    serviceExists: async (name: string) =>
      Boolean(
        await trx
          .selectFrom('services')
          .select('name')
          .where('cluster_id', '=', clusterId)
          .where('name', '=', name)
          .where('deleted', '=', 0)
          .executeTakeFirst(),
      ),
  };
}
