import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../errors';
import { ClusterStore } from './cluster-store';
import type { Lane, NewServiceVersion } from './cluster-store';
import type { DatabaseOptions } from './create-database';

const ADMIN_URL = process.env['LANEWAY_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Backend {
  name: 'sqlite' | 'postgres';
  /** Makes an empty database and returns how to open it and how to throw it away. */
  create(): Promise<{ opts: DatabaseOptions; drop(): Promise<void> }>;
}

async function withAdmin(fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    create: () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'laneway-store-'));
      return Promise.resolve({
        opts: { dataDir },
        drop: () => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })),
      });
    },
  },
  {
    name: 'postgres',
    create: async () => {
      // Generated from hex only, so safe to splice into DDL (identifiers cannot be bound parameters).
      const database = `laneway_test_${randomBytes(6).toString('hex')}`;
      await withAdmin((c) => c.query(`CREATE DATABASE ${database}`));
      const url = new URL(ADMIN_URL);
      url.pathname = `/${database}`;
      return {
        opts: { databaseUrl: url.toString(), dataDir: join(tmpdir(), 'laneway-unused') },
        drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)),
      };
    },
  },
];

let seq = 0;
function uniqueName(prefix: string): string {
  seq += 1;
  return `${prefix}-${seq}`;
}

function svc(name: string, version: string, lane: Lane = 'network'): NewServiceVersion {
  return {
    name,
    version,
    lane,
    path: `services/${name}.ts`,
    source: `// ${name}@${version}`,
    code: `module.exports = '${version}';`,
    policy: { timeoutMs: 0, attempts: 0, concurrency: 0 },
    connections: [],
  };
}

describe.each(backends)('ClusterStore on $name', (backend) => {
  let opts: DatabaseOptions;
  let drop: () => Promise<void> = () => Promise.resolve();
  let store: ClusterStore;

  beforeAll(async () => {
    ({ opts, drop } = await backend.create());
    store = await ClusterStore.open(opts);
  });

  afterAll(async () => {
    await store?.close();
    await drop();
  });

  it('creates the default cluster on open, and reopening changes nothing', async () => {
    const first = await store.getCluster('default');
    expect(first).toMatchObject({ name: 'default', revision: 0, serviceCount: 0 });

    const again = await ClusterStore.open(opts);
    try {
      expect(await again.getCluster('default')).toEqual(first);
      expect((await again.listClusters()).filter((c) => c.name === 'default')).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it.runIf(backend.name === 'postgres')('survives two stores migrating one fresh database at once', async () => {
    const fresh = await backend.create();
    try {
      const stores = await Promise.all([ClusterStore.open(fresh.opts), ClusterStore.open(fresh.opts)]);
      try {
        const [a] = stores;
        expect((await a.listClusters()).map((c) => c.name)).toEqual(['default']);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    } finally {
      await fresh.drop();
    }
  });

  it('creates, gets, lists and deletes clusters', async () => {
    const a = uniqueName('crud-a');
    const b = uniqueName('crud-b');
    const created = await store.createCluster(b);
    expect(created).toMatchObject({ name: b, revision: 0, serviceCount: 0 });
    expect(Date.parse(created.createdAt)).not.toBeNaN();
    await store.createCluster(a);

    expect(await store.getCluster(b)).toEqual(created);
    const names = (await store.listClusters()).map((c) => c.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['default', a, b]));

    await store.deployServices(a, [svc('one', 'v1'), svc('two', 'v1')]);
    expect(await store.getCluster(a)).toMatchObject({ revision: 1, serviceCount: 2 });

    await store.deleteCluster(a);
    await expect(store.getCluster(a)).rejects.toMatchObject({
      kind: 'cluster',
      key: a,
      message: `cluster '${a}' does not exist: create it with CreateCluster`,
    });
    await expect(store.deleteCluster(a)).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.listClusters()).map((c) => c.name)).not.toContain(a);
  });

  it('rejects a duplicate cluster name, also when two creates race', async () => {
    const name = uniqueName('dup');
    await store.createCluster(name);
    await expect(store.createCluster(name)).rejects.toMatchObject({
      constructor: AlreadyExistsError,
      kind: 'cluster',
      key: name,
      message: `cluster '${name}' already exists`,
    });

    const raced = uniqueName('race');
    const results = await Promise.allSettled([store.createCluster(raced), store.createCluster(raced)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(AlreadyExistsError);
  });

  it.each(['', 'Upper', '-leading', '_leading', 'has space', 'dot.ted', 'x'.repeat(64)])(
    'rejects the cluster name %j',
    async (bad) => {
      const error: unknown = await store.createCluster(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ field: 'name' });
      expect((error as Error).message).toContain(`'${bad}'`);
    },
  );

  it('accepts names at the edges of the pattern', async () => {
    const longest = `a${'b'.repeat(61)}${seq}`.slice(0, 63);
    for (const name of ['0', longest, uniqueName('a_b')]) {
      await expect(store.createCluster(name)).resolves.toMatchObject({ name });
    }
  });

  it('throws NotFoundError for every call on a missing cluster', async () => {
    const missing = uniqueName('missing');
    const calls: Array<() => Promise<unknown>> = [
      () => store.deployServices(missing, [svc('s', 'v1')]),
      () => store.undeployService(missing, 's'),
      () => store.listServices(missing),
      () => store.getService(missing, 's'),
      () => store.changesSince(missing, 0),
      () => store.recordServerHello(missing, { name: 'srv', host: 'h', pid: 1, lanes: ['cpu'], appliedRevision: 0, httpAddress: '' }),
      () => store.recordServerApplied(missing, 'srv', 1, null),
      () => store.releaseServer(missing, 'srv'),
      () => store.listServers(missing),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({ constructor: NotFoundError, kind: 'cluster', key: missing });
    }
  });

  it('keeps same-named services in different clusters apart', async () => {
    const a = uniqueName('iso-a');
    const b = uniqueName('iso-b');
    await store.createCluster(a);
    await store.createCluster(b);

    await store.deployServices(a, [svc('api', 'a1')]);
    await store.deployServices(b, [svc('api', 'b1', 'cpu')]);
    await store.deployServices(b, [svc('api', 'b2', 'cpu')]);

    expect(await store.getService(a, 'api')).toMatchObject({ version: 'a1', lane: 'network', revision: 1 });
    expect(await store.getService(b, 'api')).toMatchObject({ version: 'b2', lane: 'cpu', revision: 2 });

    await store.undeployService(a, 'api');
    expect(await store.getService(a, 'api')).toBeUndefined();
    expect(await store.getService(b, 'api')).toMatchObject({ version: 'b2' });
  });

  it('lists services in pages by name, and by name prefix', async () => {
    const c = uniqueName('paged');
    await store.createCluster(c);
    const names = Array.from({ length: 25 }, (_, i) => `${i % 2 ? 'odd' : 'even'}.s${String(i).padStart(2, '0')}`);
    await store.deployServices(c, names.map((n) => svc(n, 'v1')));
    const all = (await store.listServices(c)).services.map((s) => s.name);
    expect(all).toEqual([...names].sort());
    const paged: string[] = [];
    let after = '';
    for (;;) {
      const page = await store.listServices(c, { size: 10, after });
      paged.push(...page.services.map((s) => s.name));
      expect(page.services.length).toBeLessThanOrEqual(10);
      if (!page.more) break;
      after = page.services.at(-1)!.name;
    }
    expect(paged).toEqual(all);
    const odd = await store.listServices(c, { size: 5, prefix: 'odd.' });
    expect(odd.services.map((s) => s.name)).toEqual(all.filter((n) => n.startsWith('odd.')).slice(0, 5));
    expect(odd.more).toBe(true);
    expect((await store.listServices(c, { size: 100, prefix: 'odd.', after: 'odd.s21' })).services.map((s) => s.name)).toEqual(['odd.s23']);
  });

  it('bumps the revision only when a service changes', async () => {
    const c = uniqueName('bump');
    await store.createCluster(c);

    const first = await store.deployServices(c, [svc('api', 'v1'), svc('worker', 'w1', 'cpu')]);
    expect(first.revision).toBe(1);
    expect(first.services.map((s) => s.changed)).toEqual([true, true]);

    const same = await store.deployServices(c, [svc('api', 'v1'), svc('worker', 'w1', 'cpu')]);
    expect(same.revision).toBe(1);
    expect(same.services).toEqual([
      { name: 'api', version: 'v1', lane: 'network', path: 'services/api.ts', changed: false, policy: { timeoutMs: 0, attempts: 0, concurrency: 0 } },
      { name: 'worker', version: 'w1', lane: 'cpu', path: 'services/worker.ts', changed: false, policy: { timeoutMs: 0, attempts: 0, concurrency: 0 } },
    ]);

    const newVersion = await store.deployServices(c, [svc('api', 'v2'), svc('worker', 'w1', 'cpu')]);
    expect(newVersion.revision).toBe(2);
    expect(newVersion.services.map((s) => [s.name, s.changed])).toEqual([
      ['api', true],
      ['worker', false],
    ]);

    const newLane = await store.deployServices(c, [svc('api', 'v2', 'cpu')]);
    expect(newLane.revision).toBe(3);
    expect(newLane.services[0]?.changed).toBe(true);

    const { revision, services } = await store.listServices(c);
    expect(revision).toBe(3);
    expect(services.map((s) => [s.name, s.version, s.lane, s.revision])).toEqual([
      ['api', 'v2', 'cpu', 3],
      ['worker', 'w1', 'cpu', 1],
    ]);

    // Bringing back an undeployed service at the version it had is a change.
    await store.undeployService(c, 'worker');
    const back = await store.deployServices(c, [svc('worker', 'w1', 'cpu')]);
    expect(back).toMatchObject({ revision: 5, services: [{ name: 'worker', changed: true }] });

    expect(await store.deployServices(c, [])).toEqual({ revision: 5, services: [] });
  });

  it('returns with a deployment the change set that a server at the previous revision reads', async () => {
    const c = uniqueName('delta');
    await store.createCluster(c);
    const first = await store.deployServices(c, [svc('b', 'v1'), svc('a', 'v1', 'cpu')]);
    // From revision 0 a server gets a full snapshot, which a deployment does not describe.
    expect(first.delta).toBeUndefined();
    const second = await store.deployServices(c, [svc('c', 'v1'), svc('b', 'v2'), svc('a', 'v1', 'cpu')]);
    expect(second.delta?.since).toBe(first.revision);
    const read = await store.changesSince(c, first.revision);
    expect(read.services.map((s) => s.name)).toEqual(['b', 'c']);
    expect(second.delta?.changes).toEqual(read);
    const unchanged = await store.deployServices(c, [svc('c', 'v1')]);
    expect(unchanged.delta).toBeUndefined();
  });

  it('rejects a deployment that names one service twice', async () => {
    const c = uniqueName('twice');
    await store.createCluster(c);
    const error: unknown = await store
      .deployServices(c, [svc('api', 'v1'), { ...svc('api', 'v2'), path: 'other/api.ts' }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ field: 'files' });
    expect((error as Error).message).toMatch(/^service 'api' is defined twice/);
    expect((await store.getCluster(c)).revision).toBe(0);
  });

  it('keeps the revision across close and reopen', async () => {
    const c = uniqueName('durable');
    await store.createCluster(c);
    await store.deployServices(c, [svc('api', 'v1')]);
    await store.deployServices(c, [svc('api', 'v2')]);
    await store.close();

    store = await ClusterStore.open(opts);
    expect((await store.getCluster(c)).revision).toBe(2);
    const next = await store.deployServices(c, [svc('api', 'v3')]);
    expect(next.revision).toBe(3);
  });

  it('reports full snapshots and deltas', async () => {
    const c = uniqueName('changes');
    await store.createCluster(c);

    expect(await store.changesSince(c, 0)).toEqual({ revision: 0, full: true, services: [], removed: [], resources: [], removedResources: [] });

    await store.deployServices(c, [svc('a', 'a1'), svc('b', 'b1', 'cpu'), svc('c', 'c1')]); // r1
    await store.deployServices(c, [svc('b', 'b2', 'cpu')]); // r2
    await store.undeployService(c, 'c'); // r3
    await store.deployServices(c, [svc('d', 'd1')]); // r4

    const full = await store.changesSince(c, 0);
    expect(full.revision).toBe(4);
    expect(full.full).toBe(true);
    expect(full.removed).toEqual([]);
    expect(full.services.map((s) => [s.name, s.version, s.revision, s.code])).toEqual([
      ['a', 'a1', 1, "module.exports = 'a1';"],
      ['b', 'b2', 2, "module.exports = 'b2';"],
      ['d', 'd1', 4, "module.exports = 'd1';"],
    ]);
    expect(full.services[1]).toMatchObject({ lane: 'cpu', path: 'services/b.ts' });

    const sinceOne = await store.changesSince(c, 1);
    expect(sinceOne.full).toBe(false);
    expect(sinceOne.revision).toBe(4);
    expect(sinceOne.services.map((s) => s.name)).toEqual(['b', 'd']);
    expect(sinceOne.services[0]?.code).toBe("module.exports = 'b2';");
    expect(sinceOne.removed).toEqual(['c']);

    const sinceThree = await store.changesSince(c, 3);
    expect(sinceThree).toMatchObject({ revision: 4, full: false, removed: [] });
    expect(sinceThree.services.map((s) => s.name)).toEqual(['d']);

    expect(await store.changesSince(c, 4)).toEqual({ revision: 4, full: false, services: [], removed: [], resources: [], removedResources: [] });

    const ahead = await store.changesSince(c, 99);
    expect(ahead.full).toBe(true);
    expect(ahead.services.map((s) => s.name)).toEqual(['a', 'b', 'd']);
    expect(ahead.removed).toEqual([]);
  });

  it('refuses to undeploy a service that is not deployed', async () => {
    const c = uniqueName('undeploy');
    await store.createCluster(c);
    await expect(store.undeployService(c, 'ghost')).rejects.toMatchObject({
      constructor: NotFoundError,
      kind: 'service',
      key: 'ghost',
      message: `service 'ghost' is not deployed in cluster '${c}'`,
    });

    await store.deployServices(c, [svc('api', 'v1')]);
    expect(await store.undeployService(c, 'api')).toEqual({ revision: 2 });
    await expect(store.undeployService(c, 'api')).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.listServices(c)).toEqual({ revision: 2, services: [], more: false });
    expect((await store.getCluster(c)).serviceCount).toBe(0);
  });

  it('keeps every deployed version', async () => {
    const c = uniqueName('history');
    await store.createCluster(c);
    await store.deployServices(c, [svc('api', 'v1')]);
    await store.deployServices(c, [svc('api', 'v2')]);
    await store.deployServices(c, [svc('api', 'v1')]);

    const { id } = await store.db.selectFrom('clusters').select('id').where('name', '=', c).executeTakeFirstOrThrow();
    const versions = await store.db
      .selectFrom('service_versions')
      .select(['name', 'version', 'code'])
      .where('cluster_id', '=', id)
      .orderBy('version')
      .execute();
    expect(versions).toEqual([
      { name: 'api', version: 'v1', code: "module.exports = 'v1';" },
      { name: 'api', version: 'v2', code: "module.exports = 'v2';" },
    ]);
    expect(await store.getService(c, 'api')).toMatchObject({ version: 'v1', revision: 3 });
  });

  it('serialises concurrent deployments to one cluster', async () => {
    const c = uniqueName('concurrent');
    await store.createCluster(c);
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => store.deployServices(c, [svc('api', `v${i}`), svc(`only-${i}`, 'x')])),
    );
    expect(results.map((r) => r.revision).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    expect((await store.getCluster(c)).revision).toBe(5);

    const winner = results.find((r) => r.revision === 5);
    const api = await store.getService(c, 'api');
    expect(api).toMatchObject({ revision: 5, version: winner?.services[0]?.version });
    expect((await store.listServices(c)).services).toHaveLength(6);
  });

  it('records server hellos, acks and nacks', async () => {
    const c = uniqueName('servers');
    await store.createCluster(c);
    expect(await store.listServers(c)).toEqual([]);

    await store.recordServerHello(c, { name: 'srv-b', host: 'host-b', pid: 200, lanes: ['cpu'], appliedRevision: 0, httpAddress: '' });
    await store.recordServerHello(c, { name: 'srv-a', host: 'host-a', pid: 100, lanes: ['network', 'cpu'], appliedRevision: 3, httpAddress: '' });
    const listed = await store.listServers(c);
    let a = listed[0];
    expect(a).toMatchObject({ name: 'srv-a', host: 'host-a', pid: 100, lanes: ['network', 'cpu'], appliedRevision: 3, lastNack: [] });
    expect(listed[1]).toMatchObject({ name: 'srv-b', lanes: ['cpu'], appliedRevision: 0 });
    expect(Date.parse(a?.lastSeen ?? '')).not.toBeNaN();

    await store.recordServerApplied(c, 'srv-a', 4, null);
    [a] = await store.listServers(c);
    expect(a).toMatchObject({ appliedRevision: 4, lastNack: [] });

    const nack = [{ service: 'api', kind: '', message: "SyntaxError: Unexpected token '}'" }];
    await store.recordServerApplied(c, 'srv-a', 5, nack);
    [a] = await store.listServers(c);
    expect(a).toMatchObject({ appliedRevision: 4, lastNack: nack });

    // A reconnect keeps the last nack; the next ack clears it.
    await store.recordServerHello(c, { name: 'srv-a', host: 'host-a2', pid: 101, lanes: ['network'], appliedRevision: 4, httpAddress: '' });
    [a] = await store.listServers(c);
    expect(a).toMatchObject({ host: 'host-a2', pid: 101, lanes: ['network'], appliedRevision: 4, lastNack: nack });
    await store.recordServerApplied(c, 'srv-a', 5, null);
    [a] = await store.listServers(c);
    expect(a).toMatchObject({ appliedRevision: 5, lastNack: [] });

    const before = a?.lastSeen ?? '';
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Letting go of the stream records when the server was last seen.
    await store.releaseServer(c, 'srv-a');
    [a] = await store.listServers(c);
    expect(a?.lastSeen && a.lastSeen > before).toBe(true);

    await expect(store.recordServerApplied(c, 'nobody', 1, null)).rejects.toMatchObject({ kind: 'server' });
  });

  it('deletes everything a cluster owns', async () => {
    const c = uniqueName('cascade');
    const keep = uniqueName('keep');
    await store.createCluster(c);
    await store.createCluster(keep);
    for (const name of [c, keep]) {
      await store.deployServices(name, [svc('api', 'v1'), svc('job', 'j1', 'cpu')]);
      await store.deployServices(name, [svc('api', 'v2')]);
      await store.recordServerHello(name, { name: 'srv', host: 'h', pid: 1, lanes: ['network'], appliedRevision: 0, httpAddress: '' });
    }
    const ids = await store.db.selectFrom('clusters').select(['id', 'name']).where('name', 'in', [c, keep]).execute();
    const idOf = (name: string) => ids.find((r) => r.name === name)?.id ?? -1;

    const counts = async (clusterId: number) => ({
      versions: (await store.db.selectFrom('service_versions').select('name').where('cluster_id', '=', clusterId).execute()).length,
      services: (await store.db.selectFrom('services').select('name').where('cluster_id', '=', clusterId).execute()).length,
      servers: (await store.db.selectFrom('servers').select('name').where('cluster_id', '=', clusterId).execute()).length,
    });
    expect(await counts(idOf(c))).toEqual({ versions: 3, services: 2, servers: 1 });

    await store.deleteCluster(c);
    expect(await counts(idOf(c))).toEqual({ versions: 0, services: 0, servers: 0 });
    expect(await counts(idOf(keep))).toEqual({ versions: 3, services: 2, servers: 1 });

    // The name is free again and starts from scratch.
    await expect(store.createCluster(c)).resolves.toMatchObject({ revision: 0, serviceCount: 0 });
    expect(await store.changesSince(c, 0)).toMatchObject({ services: [], removed: [] });
  });

  it('creates the bootstrap user once when two stores on one database race to (as two control planes starting at once)', async () => {
    const fresh = await backend.create();
    try {
      // PostgreSQL: both migrate at once too; one SQLite file is migrated by the first to open it.
      const stores =
        backend.name === 'postgres'
          ? await Promise.all([ClusterStore.open(fresh.opts), ClusterStore.open(fresh.opts)])
          : [await ClusterStore.open(fresh.opts), await ClusterStore.open(fresh.opts)];
      try {
        // What startControlPlane does, on both at once: both may see no user, both insert.
        const created = await Promise.all(
          stores.map(async (s, i) => ((await s.userExists('admin')) ? false : s.ensureUser('admin', `scrypt$1$1$1$salt$hash${i}`, 'admin'))),
        );
        expect(created.filter(Boolean)).toHaveLength(1);
        const a = stores[0]!;
        expect((await a.listUsers()).map((u) => [u.username, u.role])).toEqual([['admin', 'admin']]);
        // A later start changes nothing, the password included.
        const before = await a.userWithPassword('admin');
        expect(await a.ensureUser('admin', 'scrypt$1$1$1$salt$other', 'admin')).toBe(false);
        expect((await a.userWithPassword('admin'))?.passwordHash).toBe(before?.passwordHash);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    } finally {
      await fresh.drop();
    }
  });

  it('keeps users and their tokens: duplicates refused, the last admin kept, tokens found by hash, revoked, gone with their user', async () => {
    const admin = uniqueName('root');
    const ann = uniqueName('ann');
    await store.createUser(admin, 'scrypt$h1', 'admin');
    const created = await store.createUser(ann, 'scrypt$h2', 'viewer');
    expect(created).toMatchObject({ username: ann, role: 'viewer' });
    await expect(store.createUser(ann, 'scrypt$h3', 'admin')).rejects.toBeInstanceOf(AlreadyExistsError);
    expect((await store.setRole(ann, 'operator')).role).toBe('operator');
    await store.setPassword(ann, 'scrypt$h4');
    expect((await store.userWithPassword(ann))?.passwordHash).toBe('scrypt$h4');
    await expect(store.setPassword(uniqueName('nobody'), 'x')).rejects.toBeInstanceOf(NotFoundError);

    const sha = randomBytes(32).toString('hex');
    await store.createToken({ id: uniqueName('tok'), username: ann, name: 'ci', tokenSha256: sha, expiresAt: undefined });
    const found = await store.tokenBySha256(sha);
    expect(found).toMatchObject({ username: ann, role: 'operator', name: 'ci', revokedAt: '', expiresAt: '' });
    // Its use is noted (at most once a minute).
    expect((await store.getToken(found!.id))?.lastUsedAt).toMatch(/^20/);
    expect(await store.tokenBySha256(randomBytes(32).toString('hex'))).toBeUndefined();
    await store.revokeToken(found!.id);
    expect((await store.tokenBySha256(sha))?.revokedAt).toMatch(/^20/);
    expect((await store.listTokens(ann)).map((t) => t.name)).toEqual(['ci']);
    await expect(store.listTokens(uniqueName('nobody'))).rejects.toBeInstanceOf(NotFoundError);

    // Expired tokens a day old go on prune, others stay.
    const old = randomBytes(32).toString('hex');
    await store.createToken({ id: uniqueName('old'), username: ann, name: 'login', tokenSha256: old, expiresAt: '2000-01-01T00:00:00.000Z' });
    await store.pruneExpiredTokens(ann, new Date(Date.now() - 86_400_000).toISOString());
    expect(await store.tokenBySha256(old)).toBeUndefined();
    expect(await store.tokenBySha256(sha)).toBeDefined();

    await store.deleteUser(ann);
    expect(await store.tokenBySha256(sha)).toBeUndefined();
    expect(await store.userExists(ann)).toBe(false);
  });

  it('refuses to delete or demote the last admin user', async () => {
    const fresh = await backend.create();
    const own = await ClusterStore.open(fresh.opts);
    try {
      const only = uniqueName('only-admin');
      await own.createUser(only, 'scrypt$h', 'admin');
      await own.createUser(uniqueName('viewer'), 'scrypt$h', 'viewer');
      await expect(own.deleteUser(only)).rejects.toThrow(/last admin user and cannot be deleted/);
      await expect(own.setRole(only, 'viewer')).rejects.toThrow(/last admin user and cannot be demoted/);
      const second = uniqueName('second-admin');
      await own.createUser(second, 'scrypt$h', 'admin');
      await own.setRole(only, 'viewer');
      await expect(own.deleteUser(second)).rejects.toThrow(/last admin user/);
      expect((await own.setRole(second, 'admin')).role).toBe('admin');
    } finally {
      await own.close();
      await fresh.drop();
    }
  });
});
