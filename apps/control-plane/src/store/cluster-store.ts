import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Migrator, PostgresIntrospector, sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors';
import { createDatabase } from './create-database';
import type { DatabaseOptions } from './create-database';
import { CHANGE_CHANNEL, type ChangeNotice } from './change-feed';
import { migrationProvider } from './migrations';
import type { Database } from './schema';
import { specVersion, type ResourceCheck, type ResourceKind, type ResourceReader, type ResourceRecord, type ResourceRef } from './resources';

export type Lane = 'network' | 'cpu';

export interface ClusterRecord {
  name: string;
  revision: number;
  createdAt: string;
  serviceCount: number;
}

/** Limits a service declares; 0 = the platform default. */
export interface ServicePolicyRecord {
  timeoutMs: number;
  attempts: number;
  concurrency: number;
}

export const DEFAULT_POLICY: Readonly<ServicePolicyRecord> = Object.freeze({ timeoutMs: 0, attempts: 0, concurrency: 0 });

export interface NewServiceVersion {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  source: string;
  code: string;
  policy: ServicePolicyRecord;
  /** The outgoing connections the service declares; each must exist in the cluster. */
  connections: string[];
  /** The other deployed files its module set holds (helpers, bundled packages), by path; kept for export. */
  sources?: Record<string, string>;
}

/** What one ApplyConfig writes: only what differs from the cluster. */
export interface ConfigWrite {
  /** Versions to make current (new or changed services). */
  services: NewServiceVersion[];
  /** Services to undeploy. */
  removeServices: string[];
  /** Resources to create or replace, specs as stored (secrets sealed). */
  puts: { kind: ResourceKind; name: string; spec: unknown }[];
  deletes: ResourceRef[];
}

export interface ExportedService {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  revision: number;
  source: string;
  /** The other files its module set holds, by path (helpers, node_modules/<pkg>.js). */
  sources: Record<string, string>;
}

export interface ExportedState {
  revision: number;
  services: ExportedService[];
  resources: ResourceRecord[];
}

/** The cluster changed between planning an apply and writing it. */
export class ConcurrentChangeError extends FailedPreconditionError {
  constructor(cluster: string, expected: number, actual: number) {
    super(`cluster '${cluster}' changed while the apply was being planned (revision ${expected}, now ${actual}): apply again`, { cluster, expected, actual });
  }
}

export interface DeployedServiceRecord {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  changed: boolean;
  policy: ServicePolicyRecord;
}

export interface ServiceRecord {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  revision: number;
  updatedAt: string;
  policy: ServicePolicyRecord;
  connections: string[];
}

export interface ServiceVersionRecord {
  version: string;
  lane: Lane;
  path: string;
  createdAt: string;
  current: boolean;
}

export interface ServiceWithCode extends ServiceRecord {
  code: string;
}

export interface ChangeSet {
  revision: number;
  full: boolean;
  services: ServiceWithCode[];
  removed: string[];
  /** Other resources changed since (all of them when `full`), and those removed since (deltas only). */
  resources: ResourceRecord[];
  removedResources: ResourceRef[];
}

export interface ServerHello {
  name: string;
  host: string;
  pid: number;
  lanes: Lane[];
  appliedRevision: number;
  /** The channel listener's HOST:PORT; '' when the server has none. */
  httpAddress: string;
}

export interface ServiceErrorRecord {
  /** The resource's name (a service's when `kind` is ''). */
  service: string;
  message: string;
  /** '' for a service, else the resource's kind ('channel', ...). */
  kind: string;
}

export interface ServerRecord {
  name: string;
  host: string;
  pid: number;
  lanes: Lane[];
  appliedRevision: number;
  lastSeen: string;
  lastNack: ServiceErrorRecord[];
  /** The revision the last NACK rejected (0: none since the last ACK). */
  lastNackRevision: number;
  drained: boolean;
  /** The channel listener's HOST:PORT from the server's last hello; '' when it has none. */
  httpAddress: string;
  /** Another control plane sharing this database holds the server's stream (and kept it fresh). */
  connectedElsewhere: boolean;
}

/**
 * A control plane refreshes `last_seen` of the servers it holds every HOLDER_HEARTBEAT_MS; a holder
 * silent for HOLDER_TTL_MS (it died without saying so) no longer counts.
 */
export const HOLDER_HEARTBEAT_MS = 5000;
const HOLDER_TTL_MS = 15_000;

export const DEFAULT_CLUSTER = 'default';

const CLUSTER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

// Keeps multi-row inserts well under SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK = 500;

type Db = Kysely<Database>;

interface ClusterRow {
  id: number;
  name: string;
  revision: number;
}

/**
 * Cluster state in SQL: clusters, the services each one runs (with every deployed version kept for
 * rollback), and the data-plane servers that follow it. Each cluster has a revision that grows by one
 * per change, and every services row remembers the revision that last touched it, so a server can ask
 * for just what changed since the revision it last applied.
 */
export class ClusterStore {
  private readonly postgres: boolean;

  /** Tells this process's own change notices from other control planes' (see {@link ChangeFeed}). */
  readonly instanceId = randomUUID();

  private constructor(readonly db: Db) {
    this.postgres = db.introspection instanceof PostgresIntrospector;
  }

  /** Other control planes may use this database (PostgreSQL); the embedded SQLite store is one process's. */
  get shared(): boolean {
    return this.postgres;
  }

  static async open(opts: DatabaseOptions): Promise<ClusterStore> {
    const db = createDatabase(opts);
    try {
      return await ClusterStore.fromDatabase(db);
    } catch (error) {
      await db.destroy();
      throw error;
    }
  }

  /** Migrates the database and makes sure the default cluster exists. The store owns `db` from here on: close() destroys it. */
  static async fromDatabase(db: Db): Promise<ClusterStore> {
    const store = new ClusterStore(db);
    if (!store.postgres) {
      // Cascading deletes depend on this, and a caller-built SQLite Kysely may not have set it. Kysely's
      // SQLite dialect keeps one connection, so setting it once holds for the store's lifetime.
      await sql`pragma foreign_keys = ON`.execute(db);
    }
    await migrateToLatest(db);
    // ON CONFLICT makes this safe when two control planes start against one database at once.
    await db
      .insertInto('clusters')
      .values({ name: DEFAULT_CLUSTER, revision: 0, created_at: now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    return store;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** The cheapest round trip to the database: health probes it (rejects while it is unreachable). */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async createCluster(name: string): Promise<ClusterRecord> {
    if (!CLUSTER_NAME.test(name)) {
      throw new InvalidArgumentError(
        'name',
        `cluster name '${name}' is invalid: use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit`,
      );
    }
    // DO NOTHING instead of catching the unique violation: a concurrent creator waits for the winner to
    // commit and then inserts nothing, which reads the same on both databases and leaves no aborted
    // statement behind.
    const row = await this.db
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

  async getCluster(name: string): Promise<ClusterRecord> {
    const row = await this.clusterRecords().where('clusters.name', '=', name).executeTakeFirst();
    if (!row) throw clusterNotFound(name);
    return toClusterRecord(row);
  }

  async listClusters(): Promise<ClusterRecord[]> {
    const rows = await this.clusterRecords().orderBy('clusters.name').execute();
    return rows.map(toClusterRecord);
  }

  async deleteCluster(name: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('clusters').where('name', '=', name).executeTakeFirst();
      if (result.numDeletedRows === 0n) throw clusterNotFound(name);
      // Other control planes end the streams they hold for it.
      await this.announce(trx, name);
    });
  }

  async deployServices(
    cluster: string,
    services: NewServiceVersion[],
  ): Promise<{ revision: number; services: DeployedServiceRecord[]; delta?: { since: number; changes: ChangeSet } }> {
    const paths = new Map<string, string>();
    for (const service of services) {
      const earlier = paths.get(service.name);
      if (earlier !== undefined) {
        throw new InvalidArgumentError(
          'files',
          `service '${service.name}' is defined twice (in '${earlier}' and '${service.path}'): give each service a unique name`,
          { service: service.name, paths: [earlier, service.path] },
        );
      }
      paths.set(service.name, service.path);
    }

    return this.db.transaction().execute(async (trx) => {
      const c = await this.lockCluster(trx, cluster);
      if (services.length === 0) return { revision: c.revision, services: [] };
      await this.checkConnectionsExist(trx, c.id, cluster, services);

      const at = now();
      await this.insertVersions(trx, c.id, services, at);

      const current = new Map<string, { version: string; lane: string; deleted: number }>();
      for (const chunk of chunks(services)) {
        const rows = await trx
          .selectFrom('services')
          .select(['name', 'version', 'lane', 'deleted'])
          .where('cluster_id', '=', c.id)
          .where(
            'name',
            'in',
            chunk.map((s) => s.name),
          )
          .execute();
        for (const row of rows) current.set(row.name, row);
      }

      const deployed = services.map((s): DeployedServiceRecord => {
        const row = current.get(s.name);
        const changed = !row || row.deleted !== 0 || row.version !== s.version || row.lane !== s.lane;
        return { name: s.name, version: s.version, lane: s.lane, path: s.path, changed, policy: s.policy };
      });
      const changed = deployed.filter((d) => d.changed);
      if (changed.length === 0) return { revision: c.revision, services: deployed };

      const revision = await this.bump(trx, c);
      await this.makeCurrent(trx, c.id, changed, revision, at);
      // What changesSince(cluster, previous revision) will read once this commits, handed to the
      // caller so that the push to servers at that revision need not read it back.
      const changes: ChangeSet = {
        revision,
        full: false,
        removed: [],
        resources: [],
        removedResources: [],
        services: services
          .filter((_, n) => deployed[n]!.changed)
          .map((s) => ({ name: s.name, version: s.version, lane: s.lane, path: s.path, revision, updatedAt: at, policy: s.policy, connections: s.connections, code: s.code }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      };
      return { revision, services: deployed, delta: c.revision > 0 ? { since: c.revision, changes } : undefined };
    });
  }

  /** Undeploys a service; `check` (run inside the transaction) may refuse it, e.g. while a channel uses it. */
  async undeployService(cluster: string, name: string, check?: ResourceCheck): Promise<{ revision: number }> {
    return this.db.transaction().execute(async (trx) => {
      const c = await this.lockCluster(trx, cluster);
      const row = await trx
        .selectFrom('services')
        .select('name')
        .where('cluster_id', '=', c.id)
        .where('name', '=', name)
        .where('deleted', '=', 0)
        .executeTakeFirst();
      if (!row) {
        throw new NotFoundError('service', name, `service '${name}' is not deployed in cluster '${cluster}'`);
      }
      await check?.(this.reader(trx, c.id));
      const revision = await this.bump(trx, c);
      await trx
        .updateTable('services')
        .set({ deleted: 1, revision, updated_at: now() })
        .where('cluster_id', '=', c.id)
        .where('name', '=', name)
        .execute();
      return { revision };
    });
  }

  async listServices(cluster: string): Promise<{ revision: number; services: ServiceRecord[] }> {
    return this.snapshot(async (trx) => {
      const c = await this.findCluster(trx, cluster);
      const rows = await this.currentServices(trx, c.id).orderBy('s.name').execute();
      return { revision: c.revision, services: rows.map(toServiceRecord) };
    });
  }

  async getService(cluster: string, name: string): Promise<ServiceRecord | undefined> {
    const c = await this.findCluster(this.db, cluster);
    const row = await this.currentServices(this.db, c.id).where('s.name', '=', name).executeTakeFirst();
    return row && toServiceRecord(row);
  }

  async changesSince(cluster: string, sinceRevision: number): Promise<ChangeSet> {
    return this.snapshot(async (trx) => {
      const c = await this.findCluster(trx, cluster);
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
   * Creates (`mode: 'create'`) or replaces (`'update'`) one resource, bumping the revision in the same
   * transaction. `check` runs inside it first (references to services or other resources, uniqueness),
   * so a concurrent change cannot slip between the check and the write. An update that leaves the spec
   * as it was changes nothing and keeps the revision.
   */
  async putResource<Spec>(
    cluster: string,
    kind: ResourceKind,
    name: string,
    spec: Spec,
    mode: 'create' | 'update',
    check?: ResourceCheck,
  ): Promise<{ revision: number; record: ResourceRecord<Spec>; changed: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      const c = await this.lockCluster(trx, cluster);
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
      await check?.(this.reader(trx, c.id));
      const version = specVersion(spec);
      if (live && existing.version === version) return { revision: c.revision, record: toResourceRecord<Spec>(existing), changed: false };
      const revision = await this.bump(trx, c);
      const at = now();
      await this.writeResource(trx, c.id, { kind, name, spec }, version, revision, at);
      return { revision, record: { kind, name, version, spec, revision, updatedAt: at }, changed: true };
    });
  }

  /** Deletes one resource (a tombstone stays for deltas); `check` may refuse it (something uses it). */
  async deleteResource(cluster: string, kind: ResourceKind, name: string, check?: ResourceCheck): Promise<{ revision: number }> {
    return this.db.transaction().execute(async (trx) => {
      const c = await this.lockCluster(trx, cluster);
      const existing = await trx
        .selectFrom('resources')
        .select('deleted')
        .where('cluster_id', '=', c.id)
        .where('kind', '=', kind)
        .where('name', '=', name)
        .executeTakeFirst();
      if (!existing || existing.deleted !== 0) throw resourceNotFound(kind, name, cluster);
      await check?.(this.reader(trx, c.id));
      const revision = await this.bump(trx, c);
      await this.tombstoneResource(trx, c.id, { kind, name }, revision, now());
      return { revision };
    });
  }

  async getResource<Spec>(cluster: string, kind: ResourceKind, name: string): Promise<ResourceRecord<Spec>> {
    const c = await this.findCluster(this.db, cluster);
    const row = await this.liveResources(this.db, c.id, kind).where('name', '=', name).executeTakeFirst();
    if (!row) throw resourceNotFound(kind, name, cluster);
    return toResourceRecord<Spec>(row);
  }

  async listResources<Spec>(cluster: string, kind: ResourceKind): Promise<{ revision: number; resources: ResourceRecord<Spec>[] }> {
    return this.snapshot(async (trx) => {
      const c = await this.findCluster(trx, cluster);
      const rows = await this.liveResources(trx, c.id, kind).execute();
      return { revision: c.revision, resources: rows.map((r) => toResourceRecord<Spec>(r)) };
    });
  }

  /**
   * Applies a cluster's configuration in one transaction and, when anything differs, one revision:
   * service versions made current or undeployed, resources put or deleted. `expectedRevision` is the
   * revision the caller planned against: another change since then fails with ABORTED-like
   * {@link ConcurrentChangeError} (plan again). `check` runs after every write, inside the
   * transaction, so it sees the state that would commit; throwing rolls everything back.
   */
  async applyConfig(cluster: string, write: ConfigWrite, expectedRevision: number, check: ResourceCheck): Promise<{ revision: number; changed: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      const c = await this.lockCluster(trx, cluster);
      if (c.revision !== expectedRevision) throw new ConcurrentChangeError(cluster, expectedRevision, c.revision);
      const changed = write.services.length + write.removeServices.length + write.puts.length + write.deletes.length > 0;
      if (!changed) {
        await check(this.reader(trx, c.id));
        return { revision: c.revision, changed: false };
      }
      const revision = await this.bump(trx, c);
      const at = now();
      await this.insertVersions(trx, c.id, write.services, at);
      await this.makeCurrent(trx, c.id, write.services, revision, at);
      for (const chunk of chunks(write.removeServices)) {
        await trx.updateTable('services').set({ deleted: 1, revision, updated_at: at }).where('cluster_id', '=', c.id).where('name', 'in', chunk).execute();
      }
      for (const put of write.puts) await this.writeResource(trx, c.id, put, specVersion(put.spec), revision, at);
      for (const ref of write.deletes) await this.tombstoneResource(trx, c.id, ref, revision, at);
      await this.checkConnectionsExist(trx, c.id, cluster, write.services);
      await check(this.reader(trx, c.id));
      return { revision, changed: true };
    });
  }

  /**
   * Everything an export writes, read at one revision: current services with their sources, and every
   * live resource. Without `withSources` the services' texts are left out (empty): what a plan needs.
   */
  async exportState(cluster: string, withSources = true): Promise<ExportedState> {
    return this.snapshot(async (trx) => {
      const c = await this.findCluster(trx, cluster);
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

  private liveResources(db: Db | Transaction<Database>, clusterId: number, kind: ResourceKind) {
    return db
      .selectFrom('resources')
      .select(['kind', 'name', 'version', 'spec', 'revision', 'updated_at'])
      .where('cluster_id', '=', clusterId)
      .where('kind', '=', kind)
      .where('deleted', '=', 0)
      .orderBy('name');
  }

  private reader(trx: Transaction<Database>, clusterId: number): ResourceReader {
    return {
      listResources: async <Spec>(kind: ResourceKind) =>
        (await this.liveResources(trx, clusterId, kind).execute()).map((r) => toResourceRecord<Spec>(r)),
      servicesUsingConnection: async (name: string) =>
        (await this.currentServices(trx, clusterId).orderBy('s.name').execute())
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

  async recordServerHello(cluster: string, hello: ServerHello): Promise<void> {
    const c = await this.findCluster(this.db, cluster);
    await this.db
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
        control_plane: this.instanceId,
        http_address: hello.httpAddress,
      })
      .onConflict((oc) =>
        oc.columns(['cluster_id', 'name']).doUpdateSet({
          host: hello.host,
          pid: hello.pid,
          lanes: hello.lanes.join(','),
          applied_revision: hello.appliedRevision,
          last_seen: now(),
          control_plane: this.instanceId,
          http_address: hello.httpAddress,
        }),
      )
      .execute();
  }

  /** An ACK (`nack` null) of `revision`, or a NACK of `revision` (the applied revision stays). */
  async recordServerApplied(cluster: string, server: string, revision: number, nack: ServiceErrorRecord[] | null): Promise<void> {
    const c = await this.findCluster(this.db, cluster);
    // A nack leaves the applied revision alone: the server still runs what it last applied.
    const set =
      nack === null
        ? { applied_revision: revision, last_nack: null, last_nack_revision: 0, last_seen: now() }
        : { last_nack: JSON.stringify(nack), last_nack_revision: revision, last_seen: now() };
    await this.updateServer(c, cluster, server, set);
  }

  /** This control plane no longer holds the server's stream (it keeps its last-seen time). */
  async releaseServer(cluster: string, server: string): Promise<void> {
    const c = await this.findCluster(this.db, cluster);
    await this.db
      .updateTable('servers')
      .set({ control_plane: null, last_seen: now() })
      .where('cluster_id', '=', c.id)
      .where('name', '=', server)
      .where('control_plane', '=', this.instanceId)
      .execute();
  }

  /** Keeps the servers this control plane holds fresh for the others (see HOLDER_HEARTBEAT_MS). */
  async heartbeatServers(cluster: string, servers: readonly string[]): Promise<void> {
    if (servers.length === 0) return;
    const c = await this.findCluster(this.db, cluster);
    await this.db
      .updateTable('servers')
      .set({ last_seen: now(), control_plane: this.instanceId })
      .where('cluster_id', '=', c.id)
      .where('name', 'in', servers)
      .execute();
  }

  async listServers(cluster: string): Promise<ServerRecord[]> {
    const c = await this.findCluster(this.db, cluster);
    const rows = await this.db
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
      connectedElsewhere:
        this.postgres &&
        row.control_plane !== null &&
        row.control_plane !== this.instanceId &&
        Date.now() - Date.parse(row.last_seen) < HOLDER_TTL_MS,
    }));
  }

  /** Forgets a server (its row, drain state included); the caller checked that it is not connected. */
  async removeServer(cluster: string, server: string): Promise<void> {
    const c = await this.findCluster(this.db, cluster);
    const result = await this.db.deleteFrom('servers').where('cluster_id', '=', c.id).where('name', '=', server).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new NotFoundError('server', server, `server '${server}' has never joined cluster '${cluster}'`);
  }

  /** Marks a server drained (or not). Returns false when the server never said hello to the cluster. */
  async setServerDrained(cluster: string, server: string, drained: boolean): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const c = await this.findCluster(trx, cluster);
      const result = await trx
        .updateTable('servers')
        .set({ drained: drained ? 1 : 0 })
        .where('cluster_id', '=', c.id)
        .where('name', '=', server)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) {
        throw new NotFoundError('server', server, `server '${server}' has never joined cluster '${cluster}'`);
      }
      await this.announce(trx, cluster, server);
    });
  }

  async isServerDrained(cluster: string, server: string): Promise<boolean> {
    const c = await this.findCluster(this.db, cluster);
    const row = await this.db
      .selectFrom('servers')
      .select('drained')
      .where('cluster_id', '=', c.id)
      .where('name', '=', server)
      .executeTakeFirst();
    return row !== undefined && row.drained !== 0;
  }

  /**
   * Makes an earlier version current again. `versionPrefix` may be any unique prefix of at least 6
   * characters. Returns the cluster revision and whether anything changed.
   */
  async rollbackService(
    cluster: string,
    name: string,
    versionPrefix: string,
  ): Promise<{ revision: number; service: DeployedServiceRecord }> {
    if (versionPrefix.length < 6) {
      throw new InvalidArgumentError('version', `version '${versionPrefix}' is too short: give at least 6 characters`);
    }
    return this.db.transaction().execute(async (trx) => {
      const c = await this.lockCluster(trx, cluster);
      const candidates = await trx
        .selectFrom('service_versions')
        .select(['version', 'lane', 'path', 'policy', 'connections'])
        .where('cluster_id', '=', c.id)
        .where('name', '=', name)
        .where('version', 'like', `${versionPrefix.replace(/[%_\\]/g, '')}%`)
        .execute();
      if (candidates.length === 0) {
        throw new NotFoundError(
          'service',
          name,
          `service '${name}' has no version '${versionPrefix}' in cluster '${cluster}': see ListServiceVersions`,
        );
      }
      if (candidates.length > 1) {
        throw new InvalidArgumentError('version', `version '${versionPrefix}' matches ${candidates.length} versions of '${name}': give more characters`);
      }
      const target = candidates[0]!;
      await this.checkConnectionsExist(trx, c.id, cluster, [{ name, path: target.path, connections: parseConnections(target.connections) }]);
      const current = await trx
        .selectFrom('services')
        .select(['version', 'deleted'])
        .where('cluster_id', '=', c.id)
        .where('name', '=', name)
        .executeTakeFirst();
      const record: DeployedServiceRecord = {
        name,
        version: target.version,
        lane: target.lane as Lane,
        path: target.path,
        changed: !current || current.deleted !== 0 || current.version !== target.version,
        policy: parsePolicy(target.policy),
      };
      if (!record.changed) return { revision: c.revision, service: record };
      const revision = await this.bump(trx, c);
      const at = now();
      await trx
        .insertInto('services')
        .values({ cluster_id: c.id, name, version: target.version, lane: target.lane, path: target.path, revision, deleted: 0, updated_at: at })
        .onConflict((oc) =>
          oc.columns(['cluster_id', 'name']).doUpdateSet({ version: target.version, lane: target.lane, path: target.path, revision, deleted: 0, updated_at: at }),
        )
        .execute();
      return { revision, service: record };
    });
  }

  /** Every version a service has had in a cluster, newest first. */
  async listServiceVersions(cluster: string, name: string): Promise<ServiceVersionRecord[]> {
    return this.snapshot(async (trx) => {
      const c = await this.findCluster(trx, cluster);
      const current = await trx
        .selectFrom('services')
        .select(['version'])
        .where('cluster_id', '=', c.id)
        .where('name', '=', name)
        .where('deleted', '=', 0)
        .executeTakeFirst();
      const rows = await trx
        .selectFrom('service_versions')
        .select(['version', 'lane', 'path', 'created_at'])
        .where('cluster_id', '=', c.id)
        .where('name', '=', name)
        .orderBy('created_at', 'desc')
        .orderBy('version')
        .execute();
      if (rows.length === 0) {
        throw new NotFoundError('service', name, `service '${name}' was never deployed in cluster '${cluster}'`);
      }
      return rows.map((r) => ({
        version: r.version,
        lane: r.lane as Lane,
        path: r.path,
        createdAt: r.created_at,
        current: r.version === current?.version,
      }));
    });
  }

  /** The cluster's join token, created on first use. */
  async getJoinToken(cluster: string): Promise<string> {
    const c = await this.findCluster(this.db, cluster);
    // Only fills an empty token, so two control planes asking at once agree on one.
    await this.db.updateTable('clusters').set({ join_token: newToken() }).where('id', '=', c.id).where('join_token', 'is', null).execute();
    const row = await this.db.selectFrom('clusters').select('join_token').where('id', '=', c.id).executeTakeFirstOrThrow();
    return row.join_token!;
  }

  async rotateJoinToken(cluster: string): Promise<string> {
    const c = await this.findCluster(this.db, cluster);
    const token = newToken();
    await this.db.updateTable('clusters').set({ join_token: token }).where('id', '=', c.id).execute();
    return token;
  }

  /** The cluster a join token belongs to, if any. */
  async clusterOfJoinToken(token: string): Promise<string | undefined> {
    if (!token.startsWith('lwj_')) return undefined;
    const rows = await this.db.selectFrom('clusters').select(['name', 'join_token']).where('join_token', '=', token).execute();
    // The equality above is not constant-time; confirm with one that is.
    return rows.find((r) => r.join_token !== null && sameSecret(r.join_token, token))?.name;
  }

  /** Non-deleted services of a cluster with their version's policy. */
  /** Creates or replaces one resource row (a tombstone comes back to life) at `revision`. */
  private async writeResource(
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
  private async tombstoneResource(trx: Transaction<Database>, clusterId: number, ref: ResourceRef, revision: number, at: string): Promise<void> {
    await trx
      .updateTable('resources')
      .set({ deleted: 1, revision, updated_at: at })
      .where('cluster_id', '=', clusterId)
      .where('kind', '=', ref.kind)
      .where('name', '=', ref.name)
      .execute();
  }

  /** Stores service versions (a version already stored is kept as it is). */
  private async insertVersions(trx: Transaction<Database>, clusterId: number, services: readonly NewServiceVersion[], at: string): Promise<void> {
    for (const chunk of chunks(services)) {
      await trx
        .insertInto('service_versions')
        .values(
          chunk.map((s) => ({
            cluster_id: clusterId,
            name: s.name,
            version: s.version,
            lane: s.lane,
            path: s.path,
            source: s.source,
            code: s.code,
            created_at: at,
            policy: JSON.stringify(s.policy),
            connections: JSON.stringify(s.connections),
            sources: s.sources && Object.keys(s.sources).length ? JSON.stringify(s.sources) : null,
          })),
        )
        .onConflict((oc) => oc.columns(['cluster_id', 'name', 'version']).doNothing())
        .execute();
    }
  }

  /** Makes the given versions current at `revision` (undeployed services come back). */
  private async makeCurrent(
    trx: Transaction<Database>,
    clusterId: number,
    services: readonly { name: string; version: string; lane: Lane; path: string }[],
    revision: number,
    at: string,
  ): Promise<void> {
    for (const chunk of chunks(services)) {
      await trx
        .insertInto('services')
        .values(chunk.map((d) => ({ cluster_id: clusterId, name: d.name, version: d.version, lane: d.lane, path: d.path, revision, deleted: 0, updated_at: at })))
        .onConflict((oc) =>
          oc.columns(['cluster_id', 'name']).doUpdateSet({
            version: (eb) => eb.ref('excluded.version'),
            lane: (eb) => eb.ref('excluded.lane'),
            path: (eb) => eb.ref('excluded.path'),
            revision,
            deleted: 0,
            updated_at: at,
          }),
        )
        .execute();
    }
  }

  /** Refuses services that declare a connection the cluster does not have (naming both). */
  private async checkConnectionsExist(
    trx: Transaction<Database>,
    clusterId: number,
    cluster: string,
    services: readonly { name: string; path: string; connections: readonly string[] }[],
  ): Promise<void> {
    if (!services.some((s) => s.connections.length)) return;
    const known = new Set((await this.liveResources(trx, clusterId, 'connection').execute()).map((r) => r.name));
    for (const service of services) {
      const missing = service.connections.filter((n) => !known.has(n));
      if (missing.length) {
        throw new InvalidArgumentError(
          'files',
          `service '${service.name}' (${service.path}) declares connection(s) ${missing.map((m) => `'${m}'`).join(', ')}, which cluster '${cluster}' does not have: create them first (CreateConnection)`,
          { service: service.name, path: service.path, connections: missing },
        );
      }
    }
  }

  private currentServices(db: Db | Transaction<Database>, clusterId: number) {
    return db
      .selectFrom('services as s')
      .leftJoin('service_versions as v', (join) =>
        join.onRef('v.cluster_id', '=', 's.cluster_id').onRef('v.name', '=', 's.name').onRef('v.version', '=', 's.version'),
      )
      .select(['s.name', 's.version', 's.lane', 's.path', 's.revision', 's.updated_at', 'v.policy', 'v.connections'])
      .where('s.cluster_id', '=', clusterId)
      .where('s.deleted', '=', 0);
  }

  private clusterRecords() {
    return this.db
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

  private async findCluster(db: Db, name: string): Promise<ClusterRow> {
    const row = await db.selectFrom('clusters').select(['id', 'revision']).where('name', '=', name).executeTakeFirst();
    if (!row) throw clusterNotFound(name);
    return { id: row.id, name, revision: toNumber(row.revision) };
  }

  /**
   * Reads the cluster row and holds it until the transaction ends, so writers to one cluster take turns
   * and each sees the revision the previous one committed.
   */
  private async lockCluster(trx: Transaction<Database>, name: string): Promise<ClusterRow> {
    if (this.postgres) {
      // NO KEY UPDATE is the lock the later revision update takes anyway; unlike FOR UPDATE it does not
      // block foreign-key checks, so server hellos for this cluster are not held up by a deploy.
      const row = await trx
        .selectFrom('clusters')
        .select(['id', 'revision'])
        .where('name', '=', name)
        .forNoKeyUpdate()
        .executeTakeFirst();
      if (!row) throw clusterNotFound(name);
      return { id: row.id, name, revision: toNumber(row.revision) };
    }
    // SQLite has no row locks. Within a process Kysely's single connection already serialises
    // transactions; writing first takes the database write lock up front (waiting out busy_timeout),
    // where a read-then-write transaction would fail with SQLITE_BUSY if another process wrote between.
    const row = await trx
      .updateTable('clusters')
      .set({ revision: sql<number>`revision` })
      .where('name', '=', name)
      .returning(['id', 'revision'])
      .executeTakeFirst();
    if (!row) throw clusterNotFound(name);
    return { id: row.id, name, revision: toNumber(row.revision) };
  }

  private async bump(trx: Transaction<Database>, c: ClusterRow): Promise<number> {
    const revision = c.revision + 1;
    await trx.updateTable('clusters').set({ revision }).where('id', '=', c.id).execute();
    await this.announce(trx, c.name);
    return revision;
  }

  /**
   * Tells the other control planes sharing this PostgreSQL database that a cluster changed (or, with
   * `server`, that server's drain state), so that they push it to the servers they hold. Sent inside
   * the transaction: PostgreSQL delivers it on commit, and not at all on rollback. SQLite is one
   * process's file: nothing to tell.
   */
  private async announce(trx: Transaction<Database>, cluster: string, server = ''): Promise<void> {
    if (!this.postgres) return;
    const payload: ChangeNotice = { c: cluster, s: server, o: this.instanceId };
    await sql`select pg_notify(${CHANGE_CHANNEL}, ${JSON.stringify(payload)})`.execute(trx);
  }

  /** Runs reads that must agree with each other (the revision and the rows it describes) on one snapshot. */
  private snapshot<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const builder = this.db.transaction();
    // PostgreSQL's default READ COMMITTED gives each statement its own snapshot; a SQLite transaction
    // reads one snapshot already.
    return (this.postgres ? builder.setIsolationLevel('repeatable read').setAccessMode('read only') : builder).execute(fn);
  }

  private async updateServer(
    c: ClusterRow,
    cluster: string,
    server: string,
    set: { applied_revision?: number; last_nack?: string | null; last_nack_revision?: number; last_seen: string },
  ): Promise<void> {
    const result = await this.db
      .updateTable('servers')
      .set(set)
      .where('cluster_id', '=', c.id)
      .where('name', '=', server)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      throw new NotFoundError('server', server, `server '${server}' has not said hello to cluster '${cluster}'`);
    }
  }
}

async function migrateToLatest(db: Db): Promise<void> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration '${failed}' failed: ${reason}`, { cause: error });
  }
}

function resourceNotFound(kind: ResourceKind, name: string, cluster: string): NotFoundError {
  return new NotFoundError(kind, name, `${kind} '${name}' does not exist in cluster '${cluster}'`);
}

function toResourceRecord<Spec>(row: { kind: string; name: string; version: string; spec: string; revision: number | string; updated_at: string }): ResourceRecord<Spec> {
  return {
    kind: row.kind as ResourceKind,
    name: row.name,
    version: row.version,
    spec: JSON.parse(row.spec) as Spec,
    revision: toNumber(row.revision),
    updatedAt: row.updated_at,
  };
}

function clusterNotFound(name: string): NotFoundError {
  return new NotFoundError('cluster', name, `cluster '${name}' does not exist: create it with CreateCluster`);
}

function toClusterRecord(row: {
  name: string;
  revision: number | string;
  created_at: string;
  service_count: number | string | bigint | null;
}): ClusterRecord {
  return {
    name: row.name,
    revision: toNumber(row.revision),
    createdAt: row.created_at,
    serviceCount: toNumber(row.service_count),
  };
}

function toServiceRecord(row: {
  name: string;
  version: string;
  lane: string;
  path: string;
  revision: number | string;
  updated_at: string;
  policy: string | null;
  connections: string | null;
}): ServiceRecord {
  return {
    name: row.name,
    version: row.version,
    lane: row.lane as Lane,
    path: row.path,
    revision: toNumber(row.revision),
    updatedAt: row.updated_at,
    policy: parsePolicy(row.policy),
    connections: parseConnections(row.connections),
  };
}

function parseConnections(json: string | null): string[] {
  return json ? (JSON.parse(json) as string[]) : [];
}

function parsePolicy(json: string | null): ServicePolicyRecord {
  return json ? { ...DEFAULT_POLICY, ...(JSON.parse(json) as Partial<ServicePolicyRecord>) } : { ...DEFAULT_POLICY };
}

/** Constant-time comparison of two secrets. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function newToken(): string {
  return `lwj_${randomBytes(24).toString('base64url')}`;
}

/** PostgreSQL returns int8 and count(*) as strings; revisions stay far below 2^53. */
function toNumber(value: number | string | bigint | null): number {
  return value === null ? 0 : Number(value);
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += INSERT_CHUNK) out.push(items.slice(i, i + INSERT_CHUNK));
  return out;
}

function now(): string {
  return new Date().toISOString();
}
