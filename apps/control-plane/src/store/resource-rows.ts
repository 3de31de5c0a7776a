import type { Transaction } from 'kysely';
import { AlreadyExistsError, NotFoundError } from '../errors';
import { liveResources, resourceReader } from './queries';
import { specVersion, type ResourceCheck, type ResourceKind, type ResourceRecord, type ResourceRef } from './resources';
import { bump, findCluster, lockCluster, snapshot, type StoreContext } from './revision';
import { now, toResourceRecord } from './rows';
import type { Database } from './schema';

// The rows of the resources table (channels, securities, connections, schedules): a deleted resource
// stays as a tombstone at the revision that deleted it, so deltas can report it.

/**
 * Creates (`mode: 'create'`) or replaces (`'update'`) one resource, bumping the revision in the same
 * transaction. `check` runs inside it first (references to services or other resources, uniqueness),
 * so a concurrent change cannot slip between the check and the write. An update that leaves the spec
 * as it was changes nothing and keeps the revision.
 */
export async function putResource<Spec>(
  ctx: StoreContext,
  cluster: string,
  kind: ResourceKind,
  name: string,
  spec: Spec,
  mode: 'create' | 'update',
  check?: ResourceCheck,
): Promise<{ revision: number; record: ResourceRecord<Spec>; changed: boolean }> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster);
    const existing = await trx
      .selectFrom('resources')
      .select(['kind', 'name', 'version', 'spec', 'revision', 'updated_at', 'deleted'])
      .where('cluster_id', '=', c.id)
      .where('kind', '=', kind)
      .where('name', '=', name)
      .executeTakeFirst();
    const live = existing && existing.deleted === 0;
    if (mode === 'create' && live) {
      throw new AlreadyExistsError(kind, name, `${kind} '${name}' already exists in cluster '${cluster}': update it, or pick another name`);
    }
    if (mode === 'update' && !live) throw resourceNotFound(kind, name, cluster);
    await check?.(resourceReader(trx, c.id));
    const version = specVersion(spec);
    if (live && existing.version === version) return { revision: c.revision, record: toResourceRecord<Spec>(existing), changed: false };
    const revision = await bump(ctx, trx, c);
    const at = now();
    await writeResource(trx, c.id, { kind, name, spec }, version, revision, at);
    return { revision, record: { kind, name, version, spec, revision, updatedAt: at }, changed: true };
  });
}

/** Deletes one resource (a tombstone stays for deltas); `check` may refuse it (something uses it). */
export async function deleteResource(ctx: StoreContext, cluster: string, kind: ResourceKind, name: string, check?: ResourceCheck): Promise<{ revision: number }> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster);
    const existing = await trx
      .selectFrom('resources')
      .select('deleted')
      .where('cluster_id', '=', c.id)
      .where('kind', '=', kind)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!existing || existing.deleted !== 0) throw resourceNotFound(kind, name, cluster);
    await check?.(resourceReader(trx, c.id));
    const revision = await bump(ctx, trx, c);
    await tombstoneResource(trx, c.id, { kind, name }, revision, now());
    return { revision };
  });
}

export async function getResource<Spec>(ctx: StoreContext, cluster: string, kind: ResourceKind, name: string): Promise<ResourceRecord<Spec>> {
  const c = await findCluster(ctx.db, cluster);
  const row = await liveResources(ctx.db, c.id, kind).where('name', '=', name).executeTakeFirst();
  if (!row) throw resourceNotFound(kind, name, cluster);
  return toResourceRecord<Spec>(row);
}

export async function listResources<Spec>(ctx: StoreContext, cluster: string, kind: ResourceKind): Promise<{ revision: number; resources: ResourceRecord<Spec>[] }> {
  return snapshot(ctx, async (trx) => {
    const c = await findCluster(trx, cluster);
    const rows = await liveResources(trx, c.id, kind).execute();
    return { revision: c.revision, resources: rows.map((r) => toResourceRecord<Spec>(r)) };
  });
}

/** Creates or replaces one resource row (a tombstone comes back to life) at `revision`. */
export async function writeResource(
  trx: Transaction<Database>,
  clusterId: number,
  put: { kind: ResourceKind; name: string; spec: unknown },
  version: string,
  revision: number,
  at: string,
): Promise<void> {
  const spec = JSON.stringify(put.spec);
  await trx
    .insertInto('resources')
    .values({ cluster_id: clusterId, kind: put.kind, name: put.name, version, spec, revision, deleted: 0, updated_at: at })
    .onConflict((oc) => oc.columns(['cluster_id', 'kind', 'name']).doUpdateSet({ version, spec, revision, deleted: 0, updated_at: at }))
    .execute();
}

/** Marks one resource deleted at `revision` (the row stays so deltas can report it). */
export async function tombstoneResource(trx: Transaction<Database>, clusterId: number, ref: ResourceRef, revision: number, at: string): Promise<void> {
  await trx
    .updateTable('resources')
    .set({ deleted: 1, revision, updated_at: at })
    .where('cluster_id', '=', clusterId)
    .where('kind', '=', ref.kind)
    .where('name', '=', ref.name)
    .execute();
}

function resourceNotFound(kind: ResourceKind, name: string, cluster: string): NotFoundError {
  return new NotFoundError(kind, name, `${kind} '${name}' does not exist in cluster '${cluster}'`);
}
