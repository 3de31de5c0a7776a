// Two sites, one cluster: site A (embedded store, the default Redis) and site B (PostgreSQL store, a
// Redis of its own started here), each a control plane and two servers. B follows A through a TCP
// relay the test can cut; then a planned switchover under load makes B the source, and a forced
// failover with B's control plane killed makes A the source again, B coming back to follow it with its
// post-split change listed as discarded.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { ApplyOutcome, MirrorRole, WaitFor } from '@laneway/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  Api,
  cleanRedisPrefix,
  createTestDatabase,
  eventually,
  runCli,
  startCluster,
  startControlPlane,
  startRedisServer,
  TcpRelay,
  withPgAdmin,
  type ControlPlaneHandle,
  type OwnRedisServer,
  type TestCluster,
} from '@laneway/testkit';

const run = randomBytes(4).toString('hex');
const PG_ROLE = `lw_mirror_${run}`;
const PG_TABLE = `lw_mirror_t_${run}`;
const PG_PASSWORD = `mirror-pw-${randomBytes(12).toString('hex')}`;
const API_KEY = `mirror-key-${randomBytes(16).toString('hex')}`;

const services = (greeting: string) => `
import { defineService } from '@laneway/sdk';
export const hello = defineService({
  name: 'mir.hello',
  async handle(input: { name?: string }, ctx) {
    return { greeting: '${greeting}', name: input.name ?? 'world', server: ctx.server };
  },
});
export const row = defineService({
  name: 'mir.row',
  connections: ['pg'],
  async handle(input: { id?: string }, ctx) {
    const found = await ctx.sql('pg').selectFrom('${PG_TABLE}').select(['name']).where('id', '=', Number(input.id ?? 1)).executeTakeFirst();
    return { name: found?.name ?? null };
  },
});
export const tick = defineService({
  name: 'mir.tick',
  async handle() {
    return { at: Date.now() };
  },
});
`;

/** The gRPC error a call fails with; a call that succeeds fails the test. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (err) {
    return err as { code: number; details: string };
  }
  throw new Error('the call succeeded; it should have been refused');
}

function grpcError(err: unknown): { code: number; details: string } {
  return err as { code: number; details: string };
}

/** Every file under `dir`, read as bytes. */
function filesUnder(dir: string): { file: string; bytes: Buffer }[] {
  const out: { file: string; bytes: Buffer }[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) out.push(...filesUnder(file));
    else out.push({ file, bytes: readFileSync(file) });
  }
  return out;
}

describe('mirroring a cluster between two sites (own control plane, store and Redis each)', () => {
  let a: TestCluster;
  let b: TestCluster;
  let redisB: OwnRedisServer;
  let redisBUrl: string;
  let dbB: { url: string; drop: () => Promise<void> };
  // B reaches A's control plane through relayA (the mirror link the test cuts); A reaches B's through relayB.
  let relayA: TcpRelay;
  let relayB: TcpRelay;
  let addrA: string;
  let addrB: string;
  let token: string;
  let restartedB: ControlPlaneHandle | undefined;
  /** A CA that signed nothing any control plane here serves. */
  let wrongCaPem = '';
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'laneway-mirror-'));
  const tokenFile = path.join(scratch, 'token');
  const cliEnv = (site: TestCluster) => ({ LANEWAY_CONTROL_PLANE: site.cp.address, LANEWAY_TOKEN: ADMIN_TOKEN });

  /** One channel call on a server of a site: its status and body. */
  const get = async (port: number, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${url}`, { headers, signal: AbortSignal.timeout(5000) });
      return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, unknown> };
    } catch (err) {
      return { status: 0, body: { error: String(err) } };
    }
  };

  beforeAll(async () => {
    await withPgAdmin(async (client) => {
      await client.query(`CREATE ROLE ${PG_ROLE} LOGIN PASSWORD '${PG_PASSWORD}' IN ROLE laneway_pw`);
      await client.query(`CREATE TABLE ${PG_TABLE} (id int PRIMARY KEY, name text NOT NULL)`);
      await client.query(`INSERT INTO ${PG_TABLE} VALUES (1, 'Ada')`);
      await client.query(`GRANT SELECT ON ${PG_TABLE} TO ${PG_ROLE}`);
    });
    redisB = await startRedisServer();
    redisBUrl = redisB.url;
    dbB = await createTestDatabase();
    a = await startCluster({ servers: 2, http: true, name: 'mira', env: { LANEWAY_HTTP_ADDR: '127.0.0.1:0', LANEWAY_SCHEDULE_CHECK_MS: '1000' } });
    b = await startCluster({
      servers: 2,
      http: true,
      name: 'mirb',
      env: { DATABASE_URL: dbB.url, REDIS_URL: redisBUrl, LANEWAY_HTTP_ADDR: '127.0.0.1:0', LANEWAY_SCHEDULE_CHECK_MS: '1000' },
      serverEnv: { REDIS_URL: redisBUrl },
    });
    const target = (address: string) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) });
    relayA = new TcpRelay(target(a.cp.address));
    addrA = `127.0.0.1:${await relayA.listen()}`;
    relayB = new TcpRelay(target(b.cp.address));
    addrB = `127.0.0.1:${await relayB.listen()}`;
  }, 120_000);

  afterAll(async () => {
    await relayA?.close();
    await relayB?.close();
    if (restartedB) await restartedB.process.stop();
    await a?.stop();
    await b?.stop();
    await redisB?.stop();
    await dbB?.drop().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
    await withPgAdmin(async (client) => {
      await client.query(`DROP TABLE IF EXISTS ${PG_TABLE}`);
      await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [PG_ROLE]);
      await client.query(`DROP ROLE IF EXISTS ${PG_ROLE}`);
    }).catch(() => undefined);
  }, 60_000);

  it('refuses a wrong token, a source cluster that does not exist and a wrong CA, each with a clear error, storing nothing', async () => {
    // The CLI prints the token alone on stdout, so it goes straight into a file.
    const made = await runCli(['mirror', 'token', a.cluster], cliEnv(a));
    expect(made.code, made.stderr).toBe(0);
    token = made.stdout.trim();
    expect(token).toMatch(/^lwm_[A-Za-z0-9_-]{40,}$/);
    expect(made.stderr).toContain('laneway mirror follow');
    writeFileSync(tokenFile, `${token}\n`);

    const wrongToken = await refusal(b.api.follow({ cluster: b.cluster, sourceAddress: addrA, sourceCluster: a.cluster, token: 'lwm_not-a-token' }));
    expect(wrongToken.code).toBe(status.INVALID_ARGUMENT);
    expect(wrongToken.details).toContain('refused the mirror token');

    const noCluster = await refusal(b.api.follow({ cluster: b.cluster, sourceAddress: addrA, sourceCluster: 'no-such-cluster', token }));
    expect(noCluster.code).toBe(status.INVALID_ARGUMENT);
    expect(noCluster.details).toContain("reads cluster '" + a.cluster + "'");

    // A CA that did not sign anything the source serves (A is plaintext): the TLS handshake fails.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-mirror-ca-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'ca.pem'), '-days', '1', '-subj', '/CN=not-the-source-ca'], { stdio: 'ignore' });
    const ca = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    wrongCaPem = ca;
    rmSync(dir, { recursive: true, force: true });
    const wrongCa = await refusal(b.api.follow({ cluster: b.cluster, sourceAddress: addrA, sourceCluster: a.cluster, token, caPem: ca }));
    expect(wrongCa.code).toBe(status.UNAVAILABLE);
    expect(wrongCa.details).toContain(`the source at ${addrA} is unreachable`);
    expect(wrongCa.details).toContain('ca_pem');

    const notPem = await refusal(b.api.follow({ cluster: b.cluster, sourceAddress: addrA, sourceCluster: a.cluster, token, caPem: 'hello' }));
    expect(notPem.code).toBe(status.INVALID_ARGUMENT);
    expect(notPem.details).toContain('ca_pem');

    expect((await b.api.mirrorStatus(b.cluster)).role).toBe(MirrorRole.MIRROR_ROLE_STANDALONE);
  });

  it('follows from empty: a service, a PostgreSQL connection with its password, an API-key channel and a schedule made on the source answer on the follower\'s servers', async () => {
    const followedCli = await runCli(['mirror', 'follow', b.cluster, '--source', addrA, '--source-cluster', a.cluster, '--token-file', tokenFile, '--json'], cliEnv(b));
    expect(followedCli.code, followedCli.stderr).toBe(0);
    const followed = await b.api.mirrorStatus(b.cluster);
    expect(followed.role).toBe(MirrorRole.MIRROR_ROLE_FOLLOWER);
    expect(followed.connected).toBe(true);
    const shown = JSON.parse((await runCli(['mirror', 'status', b.cluster, '--json'], cliEnv(b))).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ role: 'FOLLOWER', sourceAddress: addrA, sourceCluster: a.cluster, connected: true });
    expect((await a.api.mirrorStatus(a.cluster)).role).toBe(MirrorRole.MIRROR_ROLE_SOURCE);

    await a.api.createConnection(a.cluster, 'pg', {
      postgres: { host: '127.0.0.1', port: 5432, database: 'test', user: PG_ROLE, password: PG_PASSWORD, passwordSet: false, url: '', tlsMode: 'disable', caPem: '', poolSize: 2, statementTimeoutMs: 5000, connectTimeoutMs: 3000 },
    });
    await a.api.deploy(a.cluster, [{ path: 'mir.ts', content: services('hello') }]);
    await a.api.createSecurity(a.cluster, { name: 'partners', apiKey: { header: 'X-Api-Key', key: API_KEY, keySet: false } });
    await a.api.putChannel(a.cluster, { name: 'hello', method: 'GET', path: '/hello/:name', service: 'mir.hello', security: 'partners' });
    await a.api.putChannel(a.cluster, { name: 'row', method: 'GET', path: '/row/:id', service: 'mir.row' });
    await a.api.putSchedule(a.cluster, { name: 'tick', service: 'mir.tick', intervalMs: 1000 });

    for (const port of b.httpPorts) {
      const hello = await eventually(() => get(port, '/hello/ada', { 'x-api-key': API_KEY }), (r) => r.status === 200);
      expect(hello.body).toMatchObject({ greeting: 'hello', name: 'ada' });
      expect((await get(port, '/hello/ada')).status).toBe(401);
      const row = await eventually(() => get(port, '/row/1'), (r) => r.status === 200);
      expect(row.body).toEqual({ name: 'Ada' });
    }
    // The schedule is stored on the follower, and fires only on the source.
    expect((await b.api.listSchedules(b.cluster)).map((s) => s.name)).toEqual(['tick']);
    await eventually(() => a.api.listScheduleRuns(a.cluster, 'tick', 100), (runs) => runs.length >= 2);
    expect(await b.api.listScheduleRuns(b.cluster, 'tick', 100)).toEqual([]);

    // Version history travels too: a second deploy on the source, then a rollback works on... the source,
    // and the follower lists the same versions.
    await a.api.deploy(a.cluster, [{ path: 'mir.ts', content: services('bonjour') }]);
    const versionsA = (await a.api.listServiceVersions(a.cluster, 'mir.hello')).versions.map((v) => v.version);
    await eventually(
      async () => (await b.api.listServiceVersions(b.cluster, 'mir.hello')).versions.map((v) => v.version),
      (v) => JSON.stringify(v) === JSON.stringify(versionsA),
    );
    expect(versionsA).toHaveLength(2);
    const status = await eventually(() => b.api.mirrorStatus(b.cluster), (s) => s.appliedSourceRevision === s.sourceRevision && s.lagMs === 0);
    expect(status.sourceRevision).toBe((await a.api.getCluster(a.cluster)).revision);
    const source = await a.api.mirrorStatus(a.cluster);
    expect(source.followers).toHaveLength(1);
    expect(source.followers[0]).toMatchObject({ cluster: b.cluster, connected: true, appliedRevision: status.sourceRevision });

    // The same on each control plane's /metrics.
    const scrape = async (cp: ControlPlaneHandle) => (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
    const metricsB = await scrape(b.cp);
    expect(metricsB).toContain(`laneway_mirror_connected{cluster="${b.cluster}"} 1`);
    expect(metricsB).toContain(`laneway_mirror_lag_seconds{cluster="${b.cluster}"} 0`);
    expect(metricsB).toContain(`laneway_mirror_applied_source_revision{cluster="${b.cluster}"} ${status.sourceRevision}`);
    expect(await scrape(a.cp)).toMatch(new RegExp(`laneway_mirror_follower_applied_revision\\{cluster="${a.cluster}",follower="[^"]+"\\} ${status.sourceRevision}`));
  });

  it('refuses every direct change on the follower, naming the source; draining its own servers stays allowed', async () => {
    const refusals = await Promise.all([
      refusal(b.api.deploy(b.cluster, [{ path: 'x.ts', content: services('x') }])),
      refusal(b.api.putChannel(b.cluster, { name: 'x', method: 'GET', path: '/x', service: 'mir.hello' })),
      refusal(b.api.deleteChannel(b.cluster, 'hello')),
      refusal(b.api.undeploy(b.cluster, 'mir.hello')),
      refusal(b.api.changeSchedule(b.cluster, 'tick', 'pause')),
      refusal(b.api.deleteConnection(b.cluster, 'pg')),
    ]);
    for (const refusal of refusals) {
      expect(refusal.code).toBe(status.FAILED_PRECONDITION);
      expect(refusal.details).toContain(`read-only follower of cluster '${a.cluster}' at ${addrA}`);
    }
    await b.api.drain(b.cluster, 's2');
    await b.api.resume(b.cluster, 's2');
  });

  it('keeps serving while the link is cut, shows it, and catches up with what changed meanwhile', async () => {
    relayA.down();
    const down = await eventually(() => b.api.mirrorStatus(b.cluster), (s) => !s.connected, 20_000);
    expect(down.lastError).toContain(addrA);
    await a.api.putChannel(a.cluster, { name: 'late', method: 'GET', path: '/late/:name', service: 'mir.hello' });
    await a.api.deploy(a.cluster, [{ path: 'mir.ts', content: services('hallo') }]);
    for (const port of b.httpPorts) {
      // The follower's servers answer with the last state they had.
      expect((await get(port, '/hello/x', { 'x-api-key': API_KEY })).body).toMatchObject({ greeting: 'bonjour' });
      expect((await get(port, '/late/x')).status).toBe(404);
    }
    relayA.up();
    for (const port of b.httpPorts) {
      await eventually(() => get(port, '/late/x'), (r) => r.status === 200 && r.body['greeting'] === 'hallo', 20_000);
    }
    const up = await eventually(() => b.api.mirrorStatus(b.cluster), (s) => s.connected && s.lastError === '' && s.appliedSourceRevision === s.sourceRevision);
    expect(up.sourceRevision).toBe((await a.api.getCluster(a.cluster)).revision);
  });

  it('never writes the connection\'s password or the API key in the clear: not in either store, not in any log', async () => {
    const secrets = [PG_PASSWORD, API_KEY];
    for (const { file, bytes } of filesUnder(a.dataDir)) {
      for (const secret of secrets) expect(bytes.includes(Buffer.from(secret)), `${secret} in ${file}`).toBe(false);
    }
    const dump = await withPgAdmin(async (client) => {
      const texts: string[] = [];
      for (const table of ['resources', 'service_versions', 'mirror_links', 'clusters']) texts.push(JSON.stringify((await client.query(`SELECT * FROM ${table}`)).rows));
      return texts.join('\n');
    }, new URL(dbB.url).pathname.slice(1));
    expect(dump).toContain('"pg"');
    for (const secret of secrets) expect(dump.includes(secret)).toBe(false);
    const logs = [a.cp.process, b.cp.process, ...a.servers, ...b.servers].map((p) => p.output.join('\n')).join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of [...secrets, token]) expect(logs.includes(secret)).toBe(false);

    // The audit log of each site: the follower's changes came from the link, the source's from the admin.
    const auditB = await runCli(['audit', '--cluster', b.cluster, '--limit', '1000', '--json'], cliEnv(b));
    expect(auditB.code, auditB.stderr).toBe(0);
    const recordsB = (JSON.parse(auditB.stdout) as { records: { rpc: string; actor: string; outcome: string; revisionAfter: number }[] }).records;
    expect(recordsB.some((r) => r.rpc === 'laneway.v1.MirrorService/Follow' && r.actor === 'admin' && r.outcome === 'OK')).toBe(true);
    expect(recordsB.filter((r) => r.actor === `mirror-link:${addrA}` && r.outcome === 'OK').length).toBeGreaterThan(3);
    expect(recordsB.filter((r) => r.rpc === 'laneway.v1.ChannelService/CreateChannel' && r.outcome === 'FAILED_PRECONDITION').length).toBeGreaterThan(0);
    const auditA = await runCli(['audit', '--cluster', a.cluster, '--limit', '1000', '--json'], cliEnv(a));
    expect(auditA.stdout).toContain('laneway.v1.ConnectionService/CreateConnection');
    for (const secret of [...secrets, token, ADMIN_TOKEN]) {
      expect(auditA.stdout.includes(secret)).toBe(false);
      expect(auditB.stdout.includes(secret)).toBe(false);
    }
  });

  it('follows a source that serves TLS, verified against its CA, and refuses another CA', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-mirror-tls-'));
    const prefix = `mirtls-${randomBytes(4).toString('hex')}`;
    const c = await startControlPlane({ LANEWAY_DATA_DIR: dir, LANEWAY_QUEUE_PREFIX: prefix, LANEWAY_TLS: 'on', LANEWAY_HTTP_ADDR: '127.0.0.1:0' });
    const apiC = new Api(c.address, c.adminToken, { ca: c.ca });
    try {
      expect(c.tls).toBe('generated');
      await apiC.createCluster('tls-src');
      const tlsService = `import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'tls.hello', handle: () => ({ over: 'tls' }) });\n`;
      await apiC.deploy('tls-src', [{ path: 'tls.ts', content: tlsService }], WaitFor.WAIT_FOR_NONE);
      const tlsToken = await apiC.mirrorToken('tls-src');
      const caPem = c.ca!.toString('utf8');
      // A CA that did not sign C's certificate: the handshake fails, nothing is stored.
      const wrong = await refusal(b.api.follow({ cluster: 'tls-copy', sourceAddress: c.address, sourceCluster: 'tls-src', token: tlsToken, caPem: wrongCaPem }));
      expect(wrong.code).toBe(status.UNAVAILABLE);
      expect(wrong.details).toContain('ca_pem');
      const followed = await b.api.follow({ cluster: 'tls-copy', sourceAddress: c.address, sourceCluster: 'tls-src', token: tlsToken, caPem });
      expect(followed).toMatchObject({ role: MirrorRole.MIRROR_ROLE_FOLLOWER, connected: true, sourceCluster: 'tls-src' });
      expect((await b.api.listServices('tls-copy')).services.map((x) => x.name)).toEqual(['tls.hello']);
      await b.api.deleteCluster('tls-copy');
    } finally {
      apiC.close();
      await c.process.stop();
      await cleanRedisPrefix(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('switches over (planned) under channel load on both sites: 0 failed requests, every acknowledged write kept, no schedule tick run twice', async () => {
    let loading = true;
    const failures: string[] = [];
    let requests = 0;
    const loaders = [...a.httpPorts, ...b.httpPorts].map(async (port) => {
      while (loading) {
        const r = await get(port, '/hello/load', { 'x-api-key': API_KEY });
        requests += 1;
        if (r.status !== 200) failures.push(`${port}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    });
    // A writer on the source: each write either commits (and must survive) or is refused, never dropped.
    let writing = true;
    const committed: string[] = [];
    const refused: string[] = [];
    const writer = (async () => {
      for (let n = 0; writing; n += 1) {
        const name = `w${n}`;
        try {
          await a.api.putChannel(a.cluster, { name, method: 'GET', path: `/w/${n}`, service: 'mir.hello' });
          committed.push(name);
        } catch (err) {
          const e = grpcError(err);
          expect(e.code).toBe(status.FAILED_PRECONDITION);
          expect(e.details).toMatch(/handing over|read-only follower/);
          refused.push(name);
          if (refused.length > 3) break;
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    const promoted = await b.api.promote(b.cluster, { address: addrB });
    writing = false;
    await writer;
    await new Promise((r) => setTimeout(r, 1500));
    loading = false;
    await Promise.all(loaders);

    expect(promoted.status?.role).toBe(MirrorRole.MIRROR_ROLE_SOURCE);
    expect(promoted.oldSourceFollowing).toBe(true);
    expect(promoted.status?.epoch).toBeGreaterThan(0);
    expect(requests).toBeGreaterThan(50);
    expect(failures).toEqual([]);
    expect(committed.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);

    const onB = new Set((await b.api.listChannels(b.cluster)).channels.map((c) => c.name));
    for (const name of committed) expect(onB.has(name), `${name} committed on A, missing on B`).toBe(true);
    for (const name of refused) expect(onB.has(name)).toBe(false);

    // A now follows B, at B's epoch.
    const statusA = await eventually(() => a.api.mirrorStatus(a.cluster), (s) => s.role === MirrorRole.MIRROR_ROLE_FOLLOWER && s.connected);
    expect(statusA.epoch).toBe(promoted.status?.epoch);
    expect(statusA.sourceAddress).toBe(addrB);
    expect(statusA.discarded).toEqual([]);
    await b.api.putChannel(b.cluster, { name: 'after', method: 'GET', path: '/after/:name', service: 'mir.hello' });
    for (const port of a.httpPorts) await eventually(() => get(port, '/after/x'), (r) => r.status === 200);
    const refusedOnA = await refusal(a.api.putChannel(a.cluster, { name: 'y', method: 'GET', path: '/y', service: 'mir.hello' }));
    expect(refusedOnA.code).toBe(status.FAILED_PRECONDITION);

    // Ticks now run on B only; across both sites, each tick time ran once.
    await eventually(() => b.api.listScheduleRuns(b.cluster, 'tick', 100), (runs) => runs.length >= 2, 10_000);
    const runsA = await a.api.listScheduleRuns(a.cluster, 'tick', 1000);
    const runsB = await b.api.listScheduleRuns(b.cluster, 'tick', 1000);
    const times = [...runsA, ...runsB].filter((r) => !r.manual).map((r) => r.scheduledAt);
    expect(new Set(times).size).toBe(times.length);
    const lastA = Math.max(...runsA.map((r) => Date.parse(r.scheduledAt)));
    const firstB = Math.min(...runsB.map((r) => Date.parse(r.scheduledAt)));
    expect(firstB).toBeGreaterThan(lastA);
    // None skipped either: B took over the ticks where A stopped, one interval apart throughout.
    const sorted = times.map((t) => Date.parse(t)).sort((x, y) => x - y);
    const gaps = sorted.slice(1).map((t, i) => t - sorted[i]!);
    // On a failure, what each control plane said about its schedules around the switchover.
    const said = (site: TestCluster): string =>
      site.cp.process.lines
        .filter((l) => /schedul|tick/i.test(String(l.msg)))
        .map((l) => JSON.stringify(l).slice(0, 400))
        .join('\n');
    const bad = gaps.filter((g) => g < 900 || g > 1100);
    expect(bad, `tick gaps ${JSON.stringify(gaps)}${bad.length ? `\nsite A:\n${said(a)}\nsite B:\n${said(b)}` : ''}`).toEqual([]);
  });

  it('fails over (forced) with the source\'s control plane killed; the old source, back, steps down and lists its post-split change as discarded', async () => {
    // B is the source. Cut A off from B first, so that a change B commits is one A never sees.
    relayB.down();
    await eventually(() => a.api.mirrorStatus(a.cluster), (s) => !s.connected, 20_000);
    await b.api.putChannel(b.cluster, { name: 'split', method: 'GET', path: '/split/:name', service: 'mir.hello' });
    await b.cp.process.kill9();

    const promoted = await a.api.promote(a.cluster, { force: true, address: addrA });
    expect(promoted.status?.role).toBe(MirrorRole.MIRROR_ROLE_SOURCE);
    expect(promoted.oldSourceFollowing).toBe(false);
    // Writable at once; B's servers keep serving their last state meanwhile.
    await a.api.putChannel(a.cluster, { name: 'new-era', method: 'GET', path: '/new-era/:name', service: 'mir.hello' });
    for (const port of b.httpPorts) expect((await get(port, '/split/x')).status).toBe(200);

    // B's control plane comes back on its address and store: A tells it to step down.
    restartedB = await startControlPlane({
      LANEWAY_DATA_DIR: b.dataDir,
      LANEWAY_QUEUE_PREFIX: b.prefix,
      LANEWAY_GRPC_ADDR: b.cp.address,
      DATABASE_URL: dbB.url,
      REDIS_URL: redisBUrl,
      LANEWAY_HTTP_ADDR: '127.0.0.1:0',
      LANEWAY_SCHEDULE_CHECK_MS: '1000',
    });
    relayB.up();
    const apiB = new Api(restartedB.address, restartedB.adminToken);
    try {
      const statusB = await eventually(() => apiB.mirrorStatus(b.cluster), (s) => s.role === MirrorRole.MIRROR_ROLE_FOLLOWER && s.connected, 30_000);
      expect(statusB.discarded).toContainEqual(expect.objectContaining({ kind: 'channel', name: 'split' }));
      expect(statusB.epoch).toBe(promoted.status?.epoch);
      expect(restartedB.process.output.join('\n')).toContain('discarded');
      // B now holds A's state: the post-split channel is gone, A's new one is there.
      const names = (await apiB.listChannels(b.cluster)).channels.map((c) => c.name);
      expect(names).toContain('new-era');
      expect(names).not.toContain('split');
      for (const port of b.httpPorts) {
        await eventually(() => get(port, '/split/x'), (r) => r.status === 404, 20_000);
        await eventually(() => get(port, '/new-era/x'), (r) => r.status === 200, 20_000);
      }
      const refused = await refusal(apiB.deploy(b.cluster, [{ path: 'x.ts', content: services('x') }], WaitFor.WAIT_FOR_NONE));
      expect(refused.code).toBe(status.FAILED_PRECONDITION);
      // The deploys that reached A after the failover report every server of A.
      const deployed = await a.api.deploy(a.cluster, [{ path: 'mir.ts', content: services('ciao') }]);
      expect(deployed.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
      for (const port of b.httpPorts) {
        await eventually(() => get(port, '/hello/x', { 'x-api-key': API_KEY }), (r) => r.body['greeting'] === 'ciao', 20_000);
      }
    } finally {
      apiB.close();
    }
  });
});
