import { Migrator } from 'kysely';
import { AlreadyExistsError, InvalidArgumentError } from '../errors';
import { migrationProvider } from './migrations';
import type { ClusterRecord } from './records';
import { announce, clusterNotFound, type Db, type StoreContext } from './revision';
import { now, toClusterRecord, toNumber } from './rows';

export const DEFAULT_CLUSTER = 'default';

const CLUSTER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Migrates the database and makes sure the default cluster exists. */
export async function prepareDatabase(ctx: StoreContext): Promise<void> {
  await ctx.dialect.prepare(ctx.db);
  await migrateToLatest(ctx.db);
  // ON CONFLICT makes this safe when two control planes start against one database at once.
  await ctx.db
    .insertInto('clusters')
    .values({ name: DEFAULT_CLUSTER, revision: 0, created_at: now() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

export async function createCluster(ctx: StoreContext, name: string): Promise<ClusterRecord> {
  if (!CLUSTER_NAME.test(name)) {
    throw new InvalidArgumentError(
      'name',
      `cluster name '${name}' is invalid: use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit`,
    );
  }
  // DO NOTHING instead of catching the unique violation: a concurrent creator waits for the winner to
  // commit and then inserts nothing, which reads the same on both databases and leaves no aborted
  // statement behind.
  const row = await ctx.db
    .insertInto('clusters')
    .values({ name, revision: 0, created_at: now() })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning(['name', 'revision', 'created_at'])
    .executeTakeFirst();
  if (!row) {
    throw new AlreadyExistsError('cluster', name, `cluster '${name}' already exists`);
  }
  return { name: row.name, revision: toNumber(row.revision), createdAt: row.created_at, serviceCount: 0 };
}

export async function getCluster(ctx: StoreContext, name: string): Promise<ClusterRecord> {
  const row = await clusterRecords(ctx.db).where('clusters.name', '=', name).executeTakeFirst();
  if (!row) throw clusterNotFound(name);
  return toClusterRecord(row);
}

export async function listClusters(ctx: StoreContext): Promise<ClusterRecord[]> {
  const rows = await clusterRecords(ctx.db).orderBy('clusters.name').execute();
  return rows.map(toClusterRecord);
}

export async function deleteCluster(ctx: StoreContext, name: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const result = await trx.deleteFrom('clusters').where('name', '=', name).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw clusterNotFound(name);
    // Other control planes end the streams they hold for it.
    await announce(ctx, trx, name);
  });
}

function clusterRecords(db: Db) {
  return db
    .selectFrom('clusters')
    .select((eb) => [
      'clusters.name',
      'clusters.revision',
      'clusters.created_at',
      eb
        .selectFrom('services')
        .select((sub) => sub.fn.countAll().as('n'))
        .whereRef('services.cluster_id', '=', 'clusters.id')
        .where('services.deleted', '=', 0)
        .as('service_count'),
    ]);
}

async function migrateToLatest(db: Db): Promise<void> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration '${failed}' failed: ${reason}`, { cause: error });
  }
}
