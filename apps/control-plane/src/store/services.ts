import type { Transaction } from 'kysely';
import { InvalidArgumentError, NotFoundError } from '../errors';
import { currentServices, liveResources, resourceReader } from './queries';
import type { ChangeSet, DeployedServiceRecord, Lane, NewServiceVersion, ServiceRecord, ServiceVersionRecord } from './records';
import type { ResourceCheck } from './resources';
import { bump, findCluster, lockCluster, snapshot, type StoreContext } from './revision';
import { chunks, now, parseConnections, parsePolicy, toServiceRecord } from './rows';
import type { Database } from './schema';

// Services and their versions: every deployed version is kept (for rollback), and the services row
// names the current one with the revision that last touched it.

export async function deployServices(
  ctx: StoreContext,
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

  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster);
    if (services.length === 0) return { revision: c.revision, services: [] };
    await checkConnectionsExist(trx, c.id, cluster, services);

    const at = now();
    await insertVersions(trx, c.id, services, at);

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

    const revision = await bump(ctx, trx, c);
    await makeCurrent(trx, c.id, changed, revision, at);
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
export async function undeployService(ctx: StoreContext, cluster: string, name: string, check?: ResourceCheck): Promise<{ revision: number }> {
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster);
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
    await check?.(resourceReader(trx, c.id));
    const revision = await bump(ctx, trx, c);
    await trx
      .updateTable('services')
      .set({ deleted: 1, revision, updated_at: now() })
      .where('cluster_id', '=', c.id)
      .where('name', '=', name)
      .execute();
    return { revision };
  });
}

/** One page of services by name: at most `size` (0: all) after the name `after`, whose names start with `prefix`. */
export interface ServicePage {
  size?: number;
  after?: string;
  prefix?: string;
}

/** The cluster's current services by name; with a page size, `more` says whether services follow the page. */
export async function listServices(ctx: StoreContext, cluster: string, page: ServicePage = {}): Promise<{ revision: number; services: ServiceRecord[]; more: boolean }> {
  return snapshot(ctx, async (trx) => {
    const c = await findCluster(trx, cluster);
    let query = currentServices(trx, c.id).orderBy('s.name');
    if (page.after) query = query.where('s.name', '>', page.after);
    if (page.prefix) query = query.where('s.name', '>=', page.prefix).where('s.name', '<', `${page.prefix}\u{10FFFF}`);
    if (page.size) query = query.limit(page.size + 1);
    const rows = await query.execute();
    const more = page.size !== undefined && page.size > 0 && rows.length > page.size;
    return { revision: c.revision, services: (more ? rows.slice(0, page.size) : rows).map(toServiceRecord), more };
  });
}

export async function getService(ctx: StoreContext, cluster: string, name: string): Promise<ServiceRecord | undefined> {
  const c = await findCluster(ctx.db, cluster);
  const row = await currentServices(ctx.db, c.id).where('s.name', '=', name).executeTakeFirst();
  return row && toServiceRecord(row);
}

/**
 * Makes an earlier version current again. `versionPrefix` may be any unique prefix of at least 6
 * characters. Returns the cluster revision and whether anything changed.
 */
export async function rollbackService(
  ctx: StoreContext,
  cluster: string,
  name: string,
  versionPrefix: string,
): Promise<{ revision: number; service: DeployedServiceRecord }> {
  if (versionPrefix.length < 6) {
    throw new InvalidArgumentError('version', `version '${versionPrefix}' is too short: give at least 6 characters`);
  }
  return ctx.db.transaction().execute(async (trx) => {
    const c = await lockCluster(ctx, trx, cluster);
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
    await checkConnectionsExist(trx, c.id, cluster, [{ name, path: target.path, connections: parseConnections(target.connections) }]);
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
    const revision = await bump(ctx, trx, c);
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
export async function listServiceVersions(ctx: StoreContext, cluster: string, name: string): Promise<ServiceVersionRecord[]> {
  return snapshot(ctx, async (trx) => {
    const c = await findCluster(trx, cluster);
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

/** Stores service versions (a version already stored is kept as it is). */
export async function insertVersions(trx: Transaction<Database>, clusterId: number, services: readonly NewServiceVersion[], at: string): Promise<void> {
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
          created_at: s.createdAt ?? at,
          policy: JSON.stringify(s.policy),
          connections: JSON.stringify(s.connections),
          sources: s.sources && Object.keys(s.sources).length ? JSON.stringify(s.sources) : null,
          input_schema: s.inputSchema ?? '',
        })),
      )
      .onConflict((oc) => oc.columns(['cluster_id', 'name', 'version']).doNothing())
      .execute();
  }
}

/** Makes the given versions current at `revision` (undeployed services come back). */
export async function makeCurrent(
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
export async function checkConnectionsExist(
  trx: Transaction<Database>,
  clusterId: number,
  cluster: string,
  services: readonly { name: string; path: string; connections: readonly string[] }[],
): Promise<void> {
  if (!services.some((s) => s.connections.length)) return;
  const known = new Set((await liveResources(trx, clusterId, 'connection').execute()).map((r) => r.name));
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
