import { ApplyOutcome, WaitFor } from '@laneway/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  cleanRedisPrefix,
  createTestDatabase,
  eventually,
  freePort,
  runCli,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

const version = (value: string): string => `
const { defineService } = require('@laneway/sdk');
exports.default = defineService({ name: 'twocp.value', handle: (input, ctx) => ({ value: '${value}', server: ctx.server }) });
`;

// Two control planes on one PostgreSQL database (for availability, behind one address or each given
// to half of the servers): a change made through either reaches the servers connected to the other.
describe('two control planes sharing one PostgreSQL store', () => {
  const prefix = uniqueName('lwtwocp');
  const cluster = uniqueName('twocp');
  const dirs = [mkdtempSync(path.join(os.tmpdir(), 'laneway-cp1-')), mkdtempSync(path.join(os.tmpdir(), 'laneway-cp2-'))];
  let db: { url: string; drop: () => Promise<void> };
  let cps: ControlPlaneHandle[] = [];
  let apis: Api[] = [];
  const servers: AppProcess[] = [];
  let s2Health: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    cps = [];
    for (const dir of dirs) {
      cps.push(await startControlPlane({ DATABASE_URL: db.url, LANEWAY_DATA_DIR: dir, LANEWAY_QUEUE_PREFIX: prefix }));
    }
    apis = cps.map((cp) => new Api(cp.address, cp.adminToken));
    await apis[0]!.createCluster(cluster);
    const joinToken = await apis[0]!.joinToken(cluster);
    const healthPort = await freePort();
    s2Health = `http://127.0.0.1:${healthPort}/healthz`;
    // s1 follows the first control plane, s2 the second.
    for (const [n, cp] of cps.entries()) {
      servers.push(
        await startServer({
          LANEWAY_CONTROL_PLANE: cp.address,
          LANEWAY_CLUSTER: cluster,
          LANEWAY_SERVER_NAME: `s${n + 1}`,
          LANEWAY_QUEUE_PREFIX: prefix,
          LANEWAY_JOIN_TOKEN: joinToken,
          ...(n === 1 ? { LANEWAY_HTTP_ADDR: `127.0.0.1:${healthPort}` } : {}),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const api of apis) api.close();
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(cps.map((cp) => cp.process.stop()));
    await cleanRedisPrefix(prefix);
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Calls the service until both servers answered; returns the value each gave. */
  async function valuesByServer(api: Api): Promise<Map<string, string>> {
    const seen = new Map<string, string>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      const r = await api.invoke(cluster, 'twocp.value', {});
      const out = JSON.parse(r.outputJson) as { value: string; server: string };
      seen.set(out.server, out.value);
    }
    return seen;
  }

  it('pushes a deploy made through one control plane to the servers of the other, both ways', async () => {
    const first = await apis[0]!.deploy(cluster, [{ path: 'twocp/value.js', content: version('v1') }], WaitFor.WAIT_FOR_NONE);
    // The second control plane's server converges without reconnecting (and the first's, which
    // invokes may reach before it applied: the deploy did not wait).
    await eventually(
      () => apis[1]!.deploymentStatus(cluster),
      (st) => ['s1', 's2'].every((name) => st.servers.some((s) => s.server === name && s.appliedRevision === first.revision)),
      10_000,
    );
    await eventually(() => valuesByServer(apis[1]!), (m) => m.get('s1') === 'v1' && m.get('s2') === 'v1', 10_000);

    const second = await apis[1]!.deploy(cluster, [{ path: 'twocp/value.js', content: version('v2') }], WaitFor.WAIT_FOR_NONE);
    expect(second.revision).toBe(first.revision + 1);
    await eventually(
      () => apis[0]!.deploymentStatus(cluster),
      (st) => ['s1', 's2'].every((name) => st.servers.some((s) => s.server === name && s.appliedRevision === second.revision)),
      10_000,
    );
    const values = await eventually(() => valuesByServer(apis[0]!), (m) => m.get('s1') === 'v2' && m.get('s2') === 'v2', 10_000);
    expect(Object.fromEntries(values)).toEqual({ s1: 'v2', s2: 'v2' });
  });

  it('shows every server connected through either control plane, and waits for all of them on deploy', async () => {
    for (const api of apis) {
      const listed = await eventually(
        () => api.listServers(cluster),
        (r) => r.servers.length === 2 && r.servers.every((s) => s.connected),
        10_000,
      );
      expect(listed.servers.map((s) => [s.name, s.connected])).toEqual([
        ['s1', true],
        ['s2', true],
      ]);
    }
    // WAIT_FOR_ALL_SERVERS through the first control plane covers s2, which the second one holds.
    const deployed = await apis[0]!.deploy(cluster, [{ path: 'twocp/value.js', content: version('v3') }]);
    expect(deployed.servers.map((s) => [s.server, s.outcome, s.appliedRevision])).toEqual([
      ['s1', ApplyOutcome.APPLY_OUTCOME_ACKED, deployed.revision],
      ['s2', ApplyOutcome.APPLY_OUTCOME_ACKED, deployed.revision],
    ]);
    const status = await apis[0]!.deploymentStatus(cluster);
    expect(status.servers.map((s) => [s.server, s.connected, s.converged])).toEqual([
      ['s1', true, true],
      ['s2', true, true],
    ]);
  });

  it('drains and resumes a server through the control plane it is not connected to', async () => {
    expect((await fetch(s2Health)).status).toBe(200);
    await apis[0]!.drain(cluster, 's2');
    await eventually(() => fetch(s2Health).then((r) => r.status), (code) => code === 503, 5000);
    const served = new Set<string>();
    for (let i = 0; i < 30; i++) served.add((await apis[0]!.invoke(cluster, 'twocp.value', {})).server);
    expect(served).toEqual(new Set(['s1']));
    await apis[0]!.resume(cluster, 's2');
    await eventually(() => fetch(s2Health).then((r) => r.status), (code) => code === 200, 5000);
  });

  it('ends the streams of a deleted cluster on every control plane', async () => {
    const doomed = uniqueName('doomed');
    await apis[0]!.createCluster(doomed);
    const token = await apis[0]!.joinToken(doomed);
    // Held by the second control plane; the cluster is deleted through the first.
    const orphan = await startServer({
      LANEWAY_CONTROL_PLANE: cps[1]!.address,
      LANEWAY_CLUSTER: doomed,
      LANEWAY_SERVER_NAME: 'orphan',
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: token,
    });
    try {
      await apis[0]!.deleteCluster(doomed);
      const lost = await orphan.waitForLog((l) => l.msg === 'sync stream lost; reconnecting' && l['code'] === 5, 10_000);
      expect(String(lost['details'])).toContain(doomed);
    } finally {
      await orphan.stop();
    }
  });

  it('shows a server as disconnected everywhere once the control plane holding it loses it', async () => {
    await servers[1]!.kill9();
    const listed = await eventually(
      () => apis[0]!.listServers(cluster),
      (r) => r.servers.find((s) => s.name === 's2')?.connected === false,
      20_000,
    );
    expect(listed.servers.find((s) => s.name === 's1')?.connected).toBe(true);
    // A deploy now waits for s1 only.
    const deployed = await apis[0]!.deploy(cluster, [{ path: 'twocp/value.js', content: version('v4') }]);
    expect(deployed.servers.map((s) => [s.server, s.outcome])).toEqual([['s1', ApplyOutcome.APPLY_OUTCOME_ACKED]]);
  });

  // Last: it kills a control plane.
  it('a server given a list moves past a dead address at start and to the survivor when its control plane dies; so does the CLI', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const roamer = await startServer({
      LANEWAY_CONTROL_PLANE: [dead, ...cps.map((cp) => cp.address)].join(','),
      LANEWAY_CLUSTER: cluster,
      LANEWAY_SERVER_NAME: 'roamer',
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: await apis[0]!.joinToken(cluster),
    });
    servers.push(roamer);
    expect(roamer.lines.find((l) => l.msg === 'sync stream lost; reconnecting')).toMatchObject({ address: dead, next: cps[0]!.address });
    const first = await roamer.waitForLog((l) => l.msg === 'sync stream open');
    expect(first['address']).toBe(cps[0]!.address);

    // s1 follows the first control plane only: stopped first, so that the survivor does not wait for it.
    await servers[0]!.stop();
    await cps[0]!.process.kill9();
    const moved = await roamer.waitForLog((l) => l.msg === 'sync stream open' && l['address'] === cps[1]!.address, 10_000);
    expect(typeof moved['appliedRevision']).toBe('number');

    const deployed = await apis[1]!.deploy(cluster, [{ path: 'twocp/value.js', content: version('v5') }]);
    expect(deployed.servers.find((s) => s.server === 'roamer')).toMatchObject({
      outcome: ApplyOutcome.APPLY_OUTCOME_ACKED,
      appliedRevision: deployed.revision,
    });
    const answer = await apis[1]!.invoke(cluster, 'twocp.value', {});
    expect(JSON.parse(answer.outputJson)).toMatchObject({ value: 'v5' });

    // The CLI skips the addresses it cannot connect to, the dead control plane's included.
    const cli = await runCli(['servers', '--json'], {
      LANEWAY_CONTROL_PLANE: `${dead},${cps[0]!.address},${cps[1]!.address}`,
      LANEWAY_CLUSTER: cluster,
      LANEWAY_TOKEN: cps[1]!.adminToken,
      LANEWAY_DATA_DIR: dirs[1]!,
    });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const listed = (JSON.parse(cli.stdout) as { servers: { name: string; connected: boolean }[] }).servers;
    expect(listed.find((s) => s.name === 'roamer')?.connected).toBe(true);
  });
});
