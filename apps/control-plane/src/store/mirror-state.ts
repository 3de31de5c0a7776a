import { createHash, randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import { FailedPreconditionError, InvalidArgumentError } from '../errors';
import { createCluster } from './clusters';
import { insertVersions, makeCurrent } from './services';
import type { Lane, ServicePolicyRecord } from './records';
import { tombstoneResource, writeResource } from './resource-rows';
import { RESOURCE_KINDS, specVersion, type ResourceKind, type ResourceRecord, type ResourceRef } from './resources';
import { bump, clusterNotFound, findCluster, lockCluster, snapshot, type Db, type StoreContext } from './revision';
import { chunks, now, parseConnections, parsePolicy, toNumber, toResourceRecord } from './rows';
import type { Database } from './schema';

// Mirror state: a cluster's role between sites, its fencing epoch, a follower's link to its source,
// the tokens a source issued and the followers it has seen, and what a site dropped when it stepped
// down after a forced failover.

export type MirrorRoleName = 'standalone' | 'source' | 'follower';

export interface MirrorLinkRecord {
  sourceAddress: string;
  sourceCluster: string;
  /** The mirror token, sealed with this site's key. */
  sealedToken: string;
  caPem: string;
  appliedSourceRevision: number;
  /** A promoted site whose old source has not stepped down yet. */
  stepDownPending: boolean;
  fenceRevision: number;
  advertiseAddress: string;
  advertiseCaPem: string;
}

export interface MirrorFollowerRecord {
  followerId: string;
  cluster: string;
  appliedRevision: number;
  lastSeen: string;
}

export interface DiscardedRecord {
  kind: string;
  name: string;
  revision: number;
  epoch: number;
  discardedAt: string;
}

export interface MirrorStateRecord {
  cluster: string;
  role: MirrorRoleName;
  epoch: number;
  revision: number;
  /** While a planned switchover hands the cluster over: until when (ISO) and to whom. */
  handoverUntil: string | undefined;
  handoverTo: string;
  link: MirrorLinkRecord | undefined;
  followers: MirrorFollowerRecord[];
  discarded: DiscardedRecord[];
}

/** One service version as the mirror link carries it. */
export interface MirroredVersion {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  code: string;
  source: string;
  sources: Record<string, string>;
  policy: ServicePolicyRecord;
  connections: string[];
  createdAt: string;
  /** JSON Schema (JSON text) of its input; '' when none. */
  inputSchema?: string;
}

/** What a source sends a follower: its state since a revision (or all of it), with service history. */
export interface MirrorChangeSet {
  revision: number;
  epoch: number;
  full: boolean;
  /** The current version of each service that changed (full: of every service). */
  services: MirroredVersion[];
  /** Full only: every other version each service has had. */
  history: MirroredVersion[];
  removed: string[];
  /** Secret fields as stored (sealed with the source's key). */
  resources: ResourceRecord[];
  removedResources: ResourceRef[];
}

/** A change pulled from the source, to apply on the follower. Resource specs carry secrets in the clear. */
export interface PulledChange {
  sourceRevision: number;
  epoch: number;
  full: boolean;
  services: MirroredVersion[];
  history: MirroredVersion[];
  removed: string[];
  resources: { kind: ResourceKind; name: string; spec: unknown }[];
  removedResources: ResourceRef[];
}

/** Seals a pulled spec's secret fields with this site's key; `stored` is the spec stored now, if any. */
export type SealPulled = (kind: ResourceKind, name: string, spec: unknown, stored: unknown) => unknown;

export function mirrorTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Source: a new mirror token for the cluster (shown once; only its hash is kept). The cluster becomes a source. */
export async function createMirrorToken(ctx: StoreContext, cluster: string): Promise<string> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster, { fenced: false });
    const row = await trx.selectFrom('clusters').select('mirror_role').where('id', '=', c.id).executeTakeFirstOrThrow();
    if (row.mirror_role === 'follower') {
      throw new FailedPreconditionError(
        `cluster '${cluster}' is a follower: a follower cannot be followed; create the token on its source, or promote this site first`,
      );
    }
    const token = `lwm_${randomBytes(32).toString('base64url')}`;
    await trx.insertInto('mirror_tokens').values({ token_sha256: mirrorTokenHash(token), cluster_id: c.id, created_at: now() }).execute();
    if (row.mirror_role === 'standalone') await trx.updateTable('clusters').set({ mirror_role: 'source' }).where('id', '=', c.id).execute();
    return token;
  });
}

/** The cluster a mirror token reads, if it is one. */
export async function clusterOfMirrorToken(ctx: StoreContext, token: string): Promise<string | undefined> {
  const row = await ctx.db
    .selectFrom('mirror_tokens as t')
    .innerJoin('clusters as c', 'c.id', 't.cluster_id')
    .select('c.name')
    .where('t.token_sha256', '=', mirrorTokenHash(token))
    .executeTakeFirst();
  return row?.name;
}

export async function getMirrorState(ctx: StoreContext, cluster: string): Promise<MirrorStateRecord> {
  return snapshot(ctx, async (trx) => {
    const c = await trx
      .selectFrom('clusters')
      .select(['id', 'revision', 'mirror_role', 'epoch', 'handover_until', 'handover_to'])
      .where('name', '=', cluster)
      .executeTakeFirst();
    if (!c) throw clusterNotFound(cluster);
    const link = await trx.selectFrom('mirror_links').selectAll().where('cluster_id', '=', c.id).executeTakeFirst();
    const followers = await trx.selectFrom('mirror_followers').selectAll().where('cluster_id', '=', c.id).orderBy('follower_id').execute();
    const discarded = await trx.selectFrom('mirror_discarded').selectAll().where('cluster_id', '=', c.id).orderBy('revision').orderBy('kind').orderBy('name').execute();
    return {
      cluster,
      role: c.mirror_role as MirrorRoleName,
      epoch: toNumber(c.epoch),
      revision: toNumber(c.revision),
      handoverUntil: c.handover_until !== null && Date.parse(c.handover_until) > Date.now() ? c.handover_until : undefined,
      handoverTo: c.handover_to,
      link: link && {
        sourceAddress: link.source_address,
        sourceCluster: link.source_cluster,
        sealedToken: link.token,
        caPem: link.ca_pem,
        appliedSourceRevision: toNumber(link.applied_source_revision),
        stepDownPending: link.step_down_pending !== 0,
        fenceRevision: toNumber(link.fence_revision),
        advertiseAddress: link.advertise_address,
        advertiseCaPem: link.advertise_ca_pem,
      },
      followers: followers.map((f) => ({ followerId: f.follower_id, cluster: f.follower_cluster, appliedRevision: toNumber(f.applied_revision), lastSeen: f.last_seen })),
      discarded: discarded.map((d) => ({ kind: d.kind, name: d.name, revision: toNumber(d.revision), epoch: toNumber(d.epoch), discardedAt: d.discarded_at })),
    };
  });
}

/** Clusters with a link row: followers to resume, and promoted sites whose old source must still step down. */
export async function listMirrorLinks(ctx: StoreContext): Promise<{ cluster: string; role: MirrorRoleName; stepDownPending: boolean }[]> {
  const rows = await ctx.db
    .selectFrom('mirror_links as l')
    .innerJoin('clusters as c', 'c.id', 'l.cluster_id')
    .select(['c.name', 'c.mirror_role', 'l.step_down_pending'])
    .orderBy('c.name')
    .execute();
  return rows.map((r) => ({ cluster: r.name, role: r.mirror_role as MirrorRoleName, stepDownPending: r.step_down_pending !== 0 }));
}

/** Source: remembers how far a follower has come. */
export async function recordFollower(ctx: StoreContext, cluster: string, followerId: string, followerCluster: string, appliedRevision: number): Promise<void> {
  const c = await findCluster(ctx.db, cluster);
  const at = now();
  await ctx.db
    .insertInto('mirror_followers')
    .values({ cluster_id: c.id, follower_id: followerId, follower_cluster: followerCluster, applied_revision: appliedRevision, last_seen: at })
    .onConflict((oc) => oc.columns(['cluster_id', 'follower_id']).doUpdateSet({ follower_cluster: followerCluster, applied_revision: appliedRevision, last_seen: at }))
    .execute();
}

export interface FollowLink {
  sourceAddress: string;
  sourceCluster: string;
  sealedToken: string;
  caPem: string;
}

/**
 * Makes `cluster` (created when missing) a follower of the link's source. A cluster that holds
 * services or resources is refused, naming them, unless `replace` (the first snapshot then replaces
 * them). Its own epoch is kept: a source with a lower one will be refused.
 */
export async function startFollowing(ctx: StoreContext, cluster: string, link: FollowLink, replace: boolean): Promise<void> {
  const exists = await ctx.db.selectFrom('clusters').select('id').where('name', '=', cluster).executeTakeFirst();
  if (!exists) await createCluster(ctx, cluster).catch(async (err: unknown) => {
    // Created meanwhile by another call: fine, it is checked below like any existing cluster.
    if (!(await ctx.db.selectFrom('clusters').select('id').where('name', '=', cluster).executeTakeFirst())) throw err;
  });
  await ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster, { fenced: false });
    const row = await trx.selectFrom('clusters').select(['mirror_role']).where('id', '=', c.id).executeTakeFirstOrThrow();
    if (row.mirror_role === 'follower') {
      const current = await trx.selectFrom('mirror_links').select(['source_address', 'source_cluster']).where('cluster_id', '=', c.id).executeTakeFirst();
      const same = current && current.source_address === link.sourceAddress && current.source_cluster === link.sourceCluster;
      if (!same && !replace) {
        throw new FailedPreconditionError(
          `cluster '${cluster}' already follows cluster '${current?.source_cluster}' at ${current?.source_address}: pass replace to follow another source`,
        );
      }
    } else if (!replace) {
      const services = await trx.selectFrom('services').select('name').where('cluster_id', '=', c.id).where('deleted', '=', 0).orderBy('name').execute();
      const resources = await trx.selectFrom('resources').select(['kind', 'name']).where('cluster_id', '=', c.id).where('deleted', '=', 0).orderBy('kind').orderBy('name').execute();
      if (services.length || resources.length) {
        const named = [...services.map((s) => `service ${s.name}`), ...resources.map((r) => `${r.kind} ${r.name}`)];
        const shown = named.slice(0, 10).join(', ') + (named.length > 10 ? `, and ${named.length - 10} more` : '');
        throw new FailedPreconditionError(
          `cluster '${cluster}' is not empty: following cluster '${link.sourceCluster}' would replace ${services.length} service(s) and ${resources.length} resource(s) (${shown}); pass replace (--replace) to replace them, or follow into a new cluster`,
        );
      }
    }
    await trx
      .updateTable('clusters')
      .set({ mirror_role: 'follower', mirror_source: `cluster '${link.sourceCluster}' at ${link.sourceAddress}`, handover_until: null, handover_to: '' })
      .where('id', '=', c.id)
      .execute();
    await setLink(trx, c.id, link);
  });
}

/** The cluster follows `link` from scratch: its next pull is a full snapshot. */
async function setLink(trx: Transaction<Database>, clusterId: number, link: FollowLink): Promise<void> {
  const values = {
    source_address: link.sourceAddress,
    source_cluster: link.sourceCluster,
    token: link.sealedToken,
    ca_pem: link.caPem,
    applied_source_revision: 0,
    step_down_pending: 0,
    fence_revision: 0,
    advertise_address: '',
    advertise_ca_pem: '',
    updated_at: now(),
  };
  await trx
    .insertInto('mirror_links')
    .values({ cluster_id: clusterId, ...values })
    .onConflict((oc) => oc.column('cluster_id').doUpdateSet(values))
    .execute();
}

/**
 * Follower: applies one change pulled from the source in one transaction, as one revision of this
 * cluster when anything differs, and records the source revision it reached. A change from a lower
 * epoch than this site's is refused; one the follower already applied changes nothing.
 */
export async function applyPulled(
  ctx: StoreContext,
  cluster: string,
  change: PulledChange,
  seal: SealPulled,
): Promise<{ revision: number; changed: boolean }> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster, { fenced: false });
    const state = await trx.selectFrom('clusters').select(['mirror_role', 'epoch']).where('id', '=', c.id).executeTakeFirstOrThrow();
    if (state.mirror_role !== 'follower') throw new FailedPreconditionError(`cluster '${cluster}' is no longer a follower: the pulled change is not applied`);
    const epoch = toNumber(state.epoch);
    if (change.epoch < epoch) {
      throw new FailedPreconditionError(
        `the source is at epoch ${change.epoch}, below this site's ${epoch}: a site never follows a lower epoch (the source was replaced by a promotion)`,
      );
    }
    const link = await trx.selectFrom('mirror_links').select('applied_source_revision').where('cluster_id', '=', c.id).executeTakeFirstOrThrow();
    const applied = toNumber(link.applied_source_revision);
    if (!change.full && change.sourceRevision <= applied && change.epoch === epoch) return { revision: c.revision, changed: false };

    const plan = await planPulled(trx, c.id, change, seal);
    let revision = c.revision;
    const changed = plan.versions.length + plan.current.length + plan.removeServices.length + plan.puts.length + plan.deletes.length > 0;
    if (changed) {
      revision = await bump(ctx, trx, c);
      const at = now();
      // With the creation times the source gave them, so "one step back" means the same on both sites.
      await insertVersions(trx, c.id, plan.versions, now());
      await makeCurrent(trx, c.id, plan.current, revision, at);
      for (const chunk of chunks(plan.removeServices)) {
        await trx.updateTable('services').set({ deleted: 1, revision, updated_at: at }).where('cluster_id', '=', c.id).where('name', 'in', chunk).execute();
      }
      for (const put of plan.puts) await writeResource(trx, c.id, put, put.version, revision, at);
      for (const ref of plan.deletes) await tombstoneResource(trx, c.id, ref, revision, at);
    }
    await trx.updateTable('clusters').set({ epoch: change.epoch }).where('id', '=', c.id).execute();
    await trx
      .updateTable('mirror_links')
      .set({ applied_source_revision: change.sourceRevision, updated_at: now() })
      .where('cluster_id', '=', c.id)
      .execute();
    return { revision, changed };
  });
}

interface PulledPlan {
  versions: MirroredVersion[];
  current: MirroredVersion[];
  removeServices: string[];
  puts: { kind: ResourceKind; name: string; spec: unknown; version: string }[];
  deletes: ResourceRef[];
}

/** What applying `change` writes: only what differs from the stored state. */
async function planPulled(trx: Transaction<Database>, clusterId: number, change: PulledChange, seal: SealPulled): Promise<PulledPlan> {
  // A delta reads only the rows it names (a one-channel change costs the same in a cluster of 10 or
  // 100,000 services); a full snapshot reads everything, to drop what the source does not have.
  const serviceNames = [...new Set([...change.services.map((s) => s.name), ...change.history.map((s) => s.name), ...change.removed])];
  const storedServices = new Map<string, { name: string; version: string; lane: string; path: string; deleted: number }>();
  const knownVersions = new Set<string>();
  const serviceRows = (names?: string[]) =>
    trx.selectFrom('services').select(['name', 'version', 'lane', 'path', 'deleted']).where('cluster_id', '=', clusterId).$if(names !== undefined, (q) => q.where('name', 'in', names!));
  const versionRows = (names?: string[]) =>
    trx.selectFrom('service_versions').select(['name', 'version']).where('cluster_id', '=', clusterId).$if(names !== undefined, (q) => q.where('name', 'in', names!));
  if (change.full) {
    for (const r of await serviceRows().execute()) storedServices.set(r.name, r);
    for (const r of await versionRows().execute()) knownVersions.add(`${r.name}\u0000${r.version}`);
  } else {
    for (const names of chunks(serviceNames)) {
      for (const r of await serviceRows(names).execute()) storedServices.set(r.name, r);
      for (const r of await versionRows(names).execute()) knownVersions.add(`${r.name}\u0000${r.version}`);
    }
  }
  const versions = [...change.services, ...change.history].filter((v) => !knownVersions.has(`${v.name}\u0000${v.version}`));
  const current = change.services.filter((s) => {
    const row = storedServices.get(s.name);
    return !row || row.deleted !== 0 || row.version !== s.version || row.lane !== s.lane || row.path !== s.path;
  });
  const live = (name: string) => {
    const row = storedServices.get(name);
    return row !== undefined && row.deleted === 0;
  };
  const removeServices = new Set(change.removed.filter(live));
  if (change.full) {
    const wanted = new Set(change.services.map((s) => s.name));
    for (const [name, row] of storedServices) if (row.deleted === 0 && !wanted.has(name)) removeServices.add(name);
  }

  const resourceQuery = () => trx.selectFrom('resources').select(['kind', 'name', 'version', 'spec', 'revision', 'updated_at', 'deleted']).where('cluster_id', '=', clusterId);
  type ResourceRow = Awaited<ReturnType<ReturnType<typeof resourceQuery>['execute']>>[number];
  const storedResources = new Map<string, ResourceRow>();
  const keep = (r: ResourceRow) => storedResources.set(`${r.kind}\u0000${r.name}`, r);
  if (change.full) {
    for (const r of await resourceQuery().execute()) keep(r);
  } else {
    const named = [...change.resources, ...change.removedResources];
    for (const kind of new Set(named.map((r) => r.kind))) {
      for (const names of chunks([...new Set(named.filter((r) => r.kind === kind).map((r) => r.name))])) {
        for (const r of await resourceQuery().where('kind', '=', kind).where('name', 'in', names).execute()) keep(r);
      }
    }
  }
  const puts: PulledPlan['puts'] = [];
  for (const r of change.resources) {
    if (!RESOURCE_KINDS.includes(r.kind)) throw new InvalidArgumentError('resources.kind', `the source sent a resource of unknown kind '${r.kind}'`);
    const row = storedResources.get(`${r.kind}\u0000${r.name}`);
    const stored = row && row.deleted === 0 ? toResourceRecord(row).spec : undefined;
    const spec = seal(r.kind, r.name, r.spec, stored);
    const version = specVersion(spec);
    if (row && row.deleted === 0 && row.version === version) continue;
    puts.push({ kind: r.kind, name: r.name, spec, version });
  }
  const deletes: ResourceRef[] = [];
  const isLive = (kind: string, name: string) => {
    const row = storedResources.get(`${kind}\u0000${name}`);
    return row !== undefined && row.deleted === 0;
  };
  for (const ref of change.removedResources) if (isLive(ref.kind, ref.name)) deletes.push(ref);
  if (change.full) {
    const wanted = new Set(change.resources.map((r) => `${r.kind}\u0000${r.name}`));
    for (const [key, row] of storedResources) if (row.deleted === 0 && !wanted.has(key)) deletes.push({ kind: row.kind as ResourceKind, name: row.name });
  }
  return { versions, current, removeServices: [...removeServices].sort(), puts, deletes };
}

/**
 * Source: the cluster's state since `since` (all of it when `since` is 0, ahead of the cluster, or the
 * follower asks for it), with each changed service's current version in full and, on a full read, its
 * whole history.
 */
export async function mirrorChangesSince(ctx: StoreContext, cluster: string, since: number): Promise<MirrorChangeSet> {
  return snapshot(ctx, async (trx) => {
    const c = await trx.selectFrom('clusters').select(['id', 'revision', 'epoch']).where('name', '=', cluster).executeTakeFirst();
    if (!c) throw clusterNotFound(cluster);
    const revision = toNumber(c.revision);
    const full = since <= 0 || since > revision;
    const rows = await trx
      .selectFrom('services')
      .select(['name', 'version', 'deleted'])
      .where('cluster_id', '=', c.id)
      .$if(full, (q) => q.where('deleted', '=', 0))
      .$if(!full, (q) => q.where('revision', '>', since))
      .orderBy('name')
      .execute();
    const removed = rows.filter((r) => r.deleted !== 0).map((r) => r.name);
    const liveRows = rows.filter((r) => r.deleted === 0);
    const currentKey = new Set(liveRows.map((r) => `${r.name}\u0000${r.version}`));
    const versions: MirroredVersion[] = [];
    for (const chunk of chunks(liveRows.map((r) => r.name))) {
      const found = await trx
        .selectFrom('service_versions')
        .selectAll()
        .where('cluster_id', '=', c.id)
        .where('name', 'in', chunk)
        .orderBy('name')
        .orderBy('created_at')
        .execute();
      for (const v of found) {
        if (!full && !currentKey.has(`${v.name}\u0000${v.version}`)) continue;
        versions.push({
          name: v.name,
          version: v.version,
          lane: v.lane as Lane,
          path: v.path,
          code: v.code,
          source: v.source,
          sources: v.sources ? (JSON.parse(v.sources) as Record<string, string>) : {},
          policy: parsePolicy(v.policy),
          connections: parseConnections(v.connections),
          createdAt: v.created_at,
          inputSchema: v.input_schema,
        });
      }
    }
    const services = versions.filter((v) => currentKey.has(`${v.name}\u0000${v.version}`));
    const history = versions.filter((v) => !currentKey.has(`${v.name}\u0000${v.version}`));
    const resourceRows = await trx
      .selectFrom('resources')
      .select(['kind', 'name', 'version', 'spec', 'revision', 'updated_at', 'deleted'])
      .where('cluster_id', '=', c.id)
      .$if(full, (q) => q.where('deleted', '=', 0))
      .$if(!full, (q) => q.where('revision', '>', since))
      .orderBy('kind')
      .orderBy('name')
      .execute();
    return {
      revision,
      epoch: toNumber(c.epoch),
      full,
      services,
      history,
      removed,
      resources: resourceRows.filter((r) => r.deleted === 0).map((r) => toResourceRecord(r)),
      removedResources: resourceRows.filter((r) => r.deleted !== 0).map((r) => ({ kind: r.kind as ResourceKind, name: r.name })),
    };
  });
}

/**
 * Source, planned switchover: stops accepting writes until `untilMs` (the follower takes over before
 * then, or writes resume), and answers with the final revision. Refused from an epoch not above this
 * site's.
 */
export async function beginHandOver(ctx: StoreContext, cluster: string, epoch: number, to: string, untilMs: number): Promise<number> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster, { fenced: false });
    const row = await trx.selectFrom('clusters').select(['mirror_role', 'epoch']).where('id', '=', c.id).executeTakeFirstOrThrow();
    if (row.mirror_role === 'follower') throw new FailedPreconditionError(`cluster '${cluster}' is itself a follower here: it has nothing to hand over`);
    const own = toNumber(row.epoch);
    if (epoch <= own) throw new FailedPreconditionError(`epoch ${epoch} is not above this site's ${own}: a handover needs a higher epoch`);
    await trx.updateTable('clusters').set({ handover_until: new Date(untilMs).toISOString(), handover_to: to }).where('id', '=', c.id).execute();
    return c.revision;
  });
}

/** Source: ends a handover that did not complete (the follower gave up); writes resume. */
export async function cancelHandOver(ctx: StoreContext, cluster: string): Promise<void> {
  await ctx.db.updateTable('clusters').set({ handover_until: null, handover_to: '' }).where('name', '=', cluster).execute();
}

/**
 * Follower → source. `epoch` is the new epoch (a planned switchover agreed it with the source; a
 * forced failover takes the next one). The link stays, marked for the old source to step down, with the
 * source revision applied at the split as the fence.
 */
export async function promote(
  ctx: StoreContext,
  cluster: string,
  opts: { epoch?: number; advertiseAddress: string; advertiseCaPem: string },
): Promise<{ epoch: number; fenceRevision: number }> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster, { fenced: false });
    const row = await trx.selectFrom('clusters').select(['mirror_role', 'epoch']).where('id', '=', c.id).executeTakeFirstOrThrow();
    if (row.mirror_role !== 'follower') throw new FailedPreconditionError(`cluster '${cluster}' is not a follower (it is ${row.mirror_role}): only a follower can be promoted`);
    const epoch = Math.max(opts.epoch ?? 0, toNumber(row.epoch) + 1);
    const link = await trx.selectFrom('mirror_links').select('applied_source_revision').where('cluster_id', '=', c.id).executeTakeFirstOrThrow();
    const fenceRevision = toNumber(link.applied_source_revision);
    await trx.updateTable('clusters').set({ mirror_role: 'source', epoch, mirror_source: '', handover_until: null, handover_to: '' }).where('id', '=', c.id).execute();
    await trx
      .updateTable('mirror_links')
      .set({ step_down_pending: 1, fence_revision: fenceRevision, advertise_address: opts.advertiseAddress, advertise_ca_pem: opts.advertiseCaPem, updated_at: now() })
      .where('cluster_id', '=', c.id)
      .execute();
    return { epoch, fenceRevision };
  });
}

/** A promoted site: its old source stepped down (or cannot be told); nothing more to do for it. */
export async function stepDownDone(ctx: StoreContext, cluster: string): Promise<void> {
  const c = await findCluster(ctx.db, cluster);
  await ctx.db.updateTable('mirror_links').set({ step_down_pending: 0, updated_at: now() }).where('cluster_id', '=', c.id).execute();
}

/**
 * Old source → follower of the new one, on the order of a higher epoch. What it committed after
 * `fenceRevision` (the last revision the new source had applied from it) is listed as discarded; the
 * first full snapshot from the new source then replaces it.
 */
export async function stepDown(
  ctx: StoreContext,
  cluster: string,
  opts: { epoch: number; link: FollowLink; fenceRevision: number },
): Promise<DiscardedRecord[]> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster, { fenced: false });
    const row = await trx.selectFrom('clusters').select(['mirror_role', 'epoch']).where('id', '=', c.id).executeTakeFirstOrThrow();
    const own = toNumber(row.epoch);
    if (opts.epoch <= own) {
      throw new FailedPreconditionError(`epoch ${opts.epoch} is not above this site's ${own}: a site steps down only for a higher epoch`);
    }
    const at = now();
    const discarded: DiscardedRecord[] = [];
    if (row.mirror_role !== 'follower') {
      const services = await trx.selectFrom('services').select(['name', 'revision']).where('cluster_id', '=', c.id).where('revision', '>', opts.fenceRevision).orderBy('name').execute();
      for (const s of services) discarded.push({ kind: 'service', name: s.name, revision: toNumber(s.revision), epoch: own, discardedAt: at });
      const resources = await trx
        .selectFrom('resources')
        .select(['kind', 'name', 'revision'])
        .where('cluster_id', '=', c.id)
        .where('revision', '>', opts.fenceRevision)
        .orderBy('kind')
        .orderBy('name')
        .execute();
      for (const r of resources) discarded.push({ kind: r.kind, name: r.name, revision: toNumber(r.revision), epoch: own, discardedAt: at });
      for (const chunk of chunks(discarded)) {
        await trx
          .insertInto('mirror_discarded')
          .values(chunk.map((d) => ({ cluster_id: c.id, kind: d.kind, name: d.name, revision: d.revision, epoch: d.epoch, discarded_at: at })))
          .execute();
      }
    }
    await trx
      .updateTable('clusters')
      .set({ mirror_role: 'follower', epoch: opts.epoch, mirror_source: `cluster '${opts.link.sourceCluster}' at ${opts.link.sourceAddress}`, handover_until: null, handover_to: '' })
      .where('id', '=', c.id)
      .execute();
    // Start over from a full snapshot: it replaces whatever this site has that the new source has not.
    await setLink(trx, c.id, opts.link);
    await trx.deleteFrom('mirror_followers').where('cluster_id', '=', c.id).execute();
    return discarded;
  });
}

/** Whether schedules of the cluster may fire on this site: it is writable (not a follower, not handing over). */
export async function isWritable(db: Db, cluster: string): Promise<boolean> {
  const row = await db.selectFrom('clusters').select(['mirror_role', 'handover_until']).where('name', '=', cluster).executeTakeFirst();
  if (!row) return false;
  return row.mirror_role !== 'follower' && !(row.handover_until !== null && Date.parse(row.handover_until) > Date.now());
}
