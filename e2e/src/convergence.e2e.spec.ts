import { status } from '@grpc/grpc-js';
import { ApplyOutcome } from '@laneway/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  cleanRedisPrefix,
  eventually,
  freePort,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

const service = (name: string, value: string, extra = ''): string => `
const { defineService } = require('@laneway/sdk');
${extra}
exports.default = defineService({
  name: '${name}',
  async handle(input, ctx) {
    if (input && input.sleepMs) await new Promise((r) => setTimeout(r, input.sleepMs));
    return { value: '${value}', server: ctx.server };
  },
});
`;

// Loads in the control plane's sandbox (no \`process\` there) but throws on server s2 only.
const throwsOnS2 = service(
  'conv.fragile',
  'v1',
  "if (typeof process !== 'undefined' && process.env.LANEWAY_SERVER_NAME === 's2') throw new Error('no GPU on this host');",
);

describe('deployments converge on every server (issue 3)', () => {
  const prefix = uniqueName('lwconv');
  const cluster = uniqueName('conv');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-conv-'));
  let cp: ControlPlaneHandle;
  let cpPort: number;
  let api: Api;
  let joinToken: string;
  const servers = new Map<string, AppProcess>();
  let s1Health: string;

  const cpEnv = (): Record<string, string> => ({
    LANEWAY_DATA_DIR: dataDir,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_GRPC_ADDR: `127.0.0.1:${cpPort}`,
  });
  const serverEnv = (name: string, extra: Record<string, string> = {}): Record<string, string> => ({
    LANEWAY_CONTROL_PLANE: `127.0.0.1:${cpPort}`,
    LANEWAY_CLUSTER: cluster,
    LANEWAY_SERVER_NAME: name,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_JOIN_TOKEN: joinToken,
    ...extra,
  });

  beforeAll(async () => {
    // A fixed port, so the control plane can be restarted where the servers expect it.
    cpPort = await freePort();
    cp = await startControlPlane(cpEnv());
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    joinToken = await api.joinToken(cluster);
    const healthPort = await freePort();
    s1Health = `http://127.0.0.1:${healthPort}/healthz`;
    servers.set('s1', await startServer(serverEnv('s1', { LANEWAY_HTTP_ADDR: `127.0.0.1:${healthPort}` })));
    servers.set('s2', await startServer(serverEnv('s2')));
    await api.deploy(cluster, [
      { path: 'conv/a.js', content: service('conv.a', 'a1') },
      { path: 'conv/b.js', content: service('conv.b', 'b1') },
      { path: 'conv/c.js', content: service('conv.c', 'c1') },
    ]);
  });

  afterAll(async () => {
    api?.close();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses calls without the right token', async () => {
    const anonymous = new Api(cp.address, undefined);
    const wrong = new Api(cp.address, 'not-a-token-at-all');
    const joiner = new Api(cp.address, joinToken);
    try {
      await expect(anonymous.listServers(cluster)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
      await expect(wrong.listServers(cluster)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
      // A join token lets a server sync; it is not an API key.
      await expect(joiner.listServers(cluster)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    } finally {
      for (const a of [anonymous, wrong, joiner]) a.close();
    }
  });

  it('does not let a server join another cluster with its join token', async () => {
    const other = uniqueName('other');
    await api.createCluster(other);
    const intruder = await startServer({ ...serverEnv('intruder'), LANEWAY_CLUSTER: other }, false);
    try {
      // Refused before it ever synced: no retry can help, so it stops at once and says what to fix.
      expect(await intruder.waitForExit()).toBe(1);
      const refused = await intruder.waitForLog((l) => l.level === 60);
      expect(String(refused.msg)).toContain(`refused this server (PERMISSION_DENIED: `);
      expect(String(refused.msg)).toContain(`cannot be used for cluster '${other}'`);
      expect(String(refused.msg)).toContain(`check LANEWAY_JOIN_TOKEN: print cluster '${other}'s token with \`npx laneway cluster token ${other}\``);
      expect(intruder.lines.some((l) => l.msg === 'sync stream lost; reconnecting')).toBe(false);
      expect((await api.listServers(other)).servers).toEqual([]);
    } finally {
      await intruder.stop();
      await api.deleteCluster(other);
    }
  });

  it('catches up a server that was killed while the cluster changed', async () => {
    await servers.get('s2')!.kill9();
    // Liveness: the control plane notices the stream is gone.
    await eventually(
      () => api.listServers(cluster),
      (r) => r.servers.find((s) => s.name === 's2')?.connected === false,
    );
    await api.deploy(cluster, [{ path: 'conv/a.js', content: service('conv.a', 'a2') }]);
    await api.undeploy(cluster, 'conv.b');
    const last = await api.deploy(cluster, [{ path: 'conv/d.js', content: service('conv.d', 'd1') }]);
    const status1 = await api.deploymentStatus(cluster);
    expect(status1.desiredRevision).toBe(last.revision);
    expect(status1.servers.find((s) => s.server === 's2')).toMatchObject({ connected: false, converged: false });

    const restarted = Date.now();
    servers.set('s2', await startServer(serverEnv('s2')));
    const converged = await eventually(
      () => api.deploymentStatus(cluster),
      (st) => st.servers.every((s) => s.connected && s.converged),
    );
    expect(converged.servers.map((s) => [s.server, s.appliedRevision])).toEqual([
      ['s1', last.revision],
      ['s2', last.revision],
    ]);
    expect(Date.now() - restarted).toBeLessThan(15_000);
    // s2 now runs exactly the cluster's services: the new version of a, no b, the new d.
    await api.drain(cluster, 's1');
    try {
      expect(JSON.parse((await api.invoke(cluster, 'conv.a', {})).outputJson)).toEqual({ value: 'a2', server: 's2' });
      expect(JSON.parse((await api.invoke(cluster, 'conv.d', {})).outputJson)).toEqual({ value: 'd1', server: 's2' });
      await expect(api.invoke(cluster, 'conv.b', {})).rejects.toMatchObject({ code: status.NOT_FOUND });
    } finally {
      await api.resume(cluster, 's1');
    }
  });

  it('shows a NACK per server and keeps the old version serving there', async () => {
    const result = await api.deploy(cluster, [{ path: 'conv/fragile.js', content: throwsOnS2 }]);
    const byServer = Object.fromEntries(result.servers.map((s) => [s.server, s]));
    expect(byServer['s1']?.outcome).toBe(ApplyOutcome.APPLY_OUTCOME_ACKED);
    expect(byServer['s2']?.outcome).toBe(ApplyOutcome.APPLY_OUTCOME_NACKED);
    expect(byServer['s2']?.errors).toEqual([{ service: 'conv.fragile', kind: '', message: 'conv/fragile.js: loading failed: no GPU on this host' }]);
    const st = await api.deploymentStatus(cluster);
    const s2 = st.servers.find((s) => s.server === 's2')!;
    expect(s2.converged).toBe(false);
    expect(s2.lastNack[0]?.message).toContain('no GPU on this host');
    // s2 still serves its last good state.
    await api.drain(cluster, 's1');
    try {
      expect(JSON.parse((await api.invoke(cluster, 'conv.a', {})).outputJson)).toEqual({ value: 'a2', server: 's2' });
    } finally {
      await api.resume(cluster, 's1');
    }
    // Undeploying the fragile service lets s2 converge again.
    const fixed = await api.undeploy(cluster, 'conv.fragile');
    expect(fixed.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
  });

  it('drains a server: no new jobs, 503 health, in-flight work finishes, still syncs; resume undoes it', async () => {
    expect((await fetch(s1Health)).status).toBe(200);
    // A slow call in flight on some server while we drain s1.
    const slow = Array.from({ length: 10 }, () => api.invoke(cluster, 'conv.a', { sleepMs: 500 }));
    await new Promise((r) => setTimeout(r, 100));
    const drainedAt = Date.now();
    const info = await api.drain(cluster, 's1');
    expect(info.drained).toBe(true);
    await eventually(
      () => fetch(s1Health).then((r) => r.status),
      (code) => code === 503,
      2000,
    );
    const drainMs = Date.now() - drainedAt;
    // In-flight calls all complete.
    const done = await Promise.all(slow);
    expect(done).toHaveLength(10);
    // New calls all go to s2.
    const after = await Promise.all(Array.from({ length: 30 }, () => api.invoke(cluster, 'conv.c', {})));
    expect(new Set(after.map((r) => r.server))).toEqual(new Set(['s2']));
    // Still syncing: a deploy is ACKed by the drained server too.
    const dep = await api.deploy(cluster, [{ path: 'conv/c.js', content: service('conv.c', 'c2') }]);
    expect(dep.servers.map((s) => s.outcome)).toEqual([ApplyOutcome.APPLY_OUTCOME_ACKED, ApplyOutcome.APPLY_OUTCOME_ACKED]);
    expect(drainMs).toBeLessThan(2000);

    await api.resume(cluster, 's1');
    await eventually(
      () => fetch(s1Health).then((r) => r.status),
      (code) => code === 200,
      2000,
    );
    const resumed = await Promise.all(Array.from({ length: 100 }, () => api.invoke(cluster, 'conv.c', { sleepMs: 10 })));
    expect(new Set(resumed.map((r) => r.server))).toEqual(new Set(['s1', 's2']));
  });

  it('lets only the newest of two replicas with one name take jobs; the older one waits for the name', async () => {
    const twins = uniqueName('twins');
    await api.createCluster(twins);
    const token = await api.joinToken(twins);
    await api.deploy(twins, [
      {
        path: 'twins/pid.js',
        content: "const { defineService } = require('@laneway/sdk');\nexports.default = defineService({ name: 'twins.pid', handle: () => ({ pid: process.pid }) });\n",
      },
    ]);
    const [portA, portB] = [await freePort(), await freePort()];
    const env = (port: number): Record<string, string> => ({
      ...serverEnv('twin'),
      LANEWAY_CLUSTER: twins,
      LANEWAY_JOIN_TOKEN: token,
      LANEWAY_HTTP_ADDR: `127.0.0.1:${port}`,
    });
    const health = (port: number): Promise<number> => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status);
    const pidsServing = async (): Promise<Set<number>> =>
      new Set(
        (await Promise.all(Array.from({ length: 20 }, () => api.invoke(twins, 'twins.pid', {})))).map(
          (r) => (JSON.parse(r.outputJson) as { pid: number }).pid,
        ),
      );
    const a = await startServer(env(portA));
    let b: AppProcess | undefined;
    try {
      b = await startServer(env(portB));
      // The older replica is told, stops taking jobs and says why.
      const conflict = await a.waitForLog((l) => l.msg === 'not taking jobs: another replica uses this server name');
      expect(conflict['level']).toBe(50);
      expect(await health(portA)).toBe(503);
      expect(await health(portB)).toBe(200);
      expect(await pidsServing()).toEqual(new Set([b.child.pid]));
      // No flapping: the name stays with the newer replica while the older one keeps retrying.
      await new Promise((r) => setTimeout(r, 3000));
      const listed = (await api.listServers(twins)).servers;
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ name: 'twin', pid: b.child.pid, connected: true });
      expect(await pidsServing()).toEqual(new Set([b.child.pid]));

      // The newer one dies: the older one gets the name back and serves again.
      await b.kill9();
      await eventually(
        () => api.listServers(twins),
        (r) => r.servers[0]?.pid === a.child.pid && r.servers[0]?.connected === true,
        30_000,
      );
      await eventually(() => health(portA), (code) => code === 200, 5000);
      expect(await pidsServing()).toEqual(new Set([a.child.pid]));
    } finally {
      await a.stop();
      await b?.stop();
      await api.deleteCluster(twins);
    }
  });

  it('rolls a service back to an earlier version on every server', async () => {
    const versions = await api.listServiceVersions(cluster, 'conv.a');
    expect(versions.versions).toHaveLength(2);
    const [current, previous] = versions.versions;
    expect(current?.current).toBe(true);
    const rolled = await api.rollback(cluster, 'conv.a', previous!.version.slice(0, 8));
    expect(rolled.service?.version).toBe(previous!.version);
    expect(rolled.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    const outputs = await Promise.all(Array.from({ length: 20 }, () => api.invoke(cluster, 'conv.a', {})));
    expect(new Set(outputs.map((r) => JSON.parse(r.outputJson).value))).toEqual(new Set(['a1']));
    await expect(api.rollback(cluster, 'conv.a', 'ffffffffff')).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('survives a control-plane restart: servers keep serving, re-sync, drain persists, revisions continue', async () => {
    const before = await api.deploymentStatus(cluster);
    await api.drain(cluster, 's1');
    await cp.process.stop();
    // Servers keep serving while the control plane is away (s2 takes jobs straight from Redis).
    const { LaneClient } = await import('@laneway/lanes');
    const direct = new LaneClient({ redis: 'redis://127.0.0.1:6379', prefix });
    try {
      const r = await direct.invoke({ cluster, lane: 'network', service: 'conv.c', input: {}, timeoutMs: 5000 });
      expect(r).toMatchObject({ output: { value: 'c2' }, server: 's2' });
    } finally {
      await direct.close();
    }
    cp = await startControlPlane(cpEnv());
    api.close();
    api = new Api(cp.address, cp.adminToken);
    await eventually(
      () => api.deploymentStatus(cluster),
      (st) => st.servers.filter((s) => s.connected).length === 2,
    );
    // Drain survived the reconnect.
    expect((await fetch(s1Health)).status).toBe(503);
    const next = await api.deploy(cluster, [{ path: 'conv/e.js', content: service('conv.e', 'e1') }]);
    expect(next.revision).toBe(before.desiredRevision + 1);
    expect(next.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    await api.resume(cluster, 's1');
  });
});
