import { status } from '@grpc/grpc-js';
import { ApplyOutcome } from '@laneway/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, cleanRedisPrefix, startControlPlane, startServer, uniqueName, type AppProcess, type ControlPlaneHandle } from '@laneway/testkit';

const SDK = "import { defineService } from '@laneway/sdk';\n";
const greet = (version: number): string => `${SDK}export default defineService({ name: 'hostile.greet', handle: () => ({ version: ${version} }) });\n`;

interface GrpcFailure {
  code: number;
  details: string;
}

/** Runs the call, expects it to fail, and returns the failure with how long it took. */
async function failure(call: Promise<unknown>): Promise<GrpcFailure & { ms: number }> {
  const started = Date.now();
  const err = await call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: GrpcFailure) => e,
  );
  expect(err.details, 'no stack trace or path of ours on the wire').not.toMatch(/\n\s+at |\/work\/|node:internal|\.ts:\d+:\d+\)/);
  return { code: err.code, details: err.details, ms: Date.now() - started };
}

// Uploads that crashed or hung the control plane before its compile processes: each must cost
// only its own deploy, while every other RPC and the servers' sync streams carry on.
describe('hostile deploys against a running control plane and server', () => {
  const prefix = uniqueName('lwhostile');
  const cluster = uniqueName('hostile');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-hostile-'));
  let cp: ControlPlaneHandle;
  let server: AppProcess;
  let api: Api;

  beforeAll(async () => {
    // A 256 MB compile heap (default 512): the hog reaches it in a few steps, before the 2 s load
    // timeout, also when the machine is busy (a parallel run once saw the timeout come first at 512).
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LOG_LEVEL: 'info', LANEWAY_COMPILE_MAX_HEAP_MB: '256' });
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    server = await startServer({
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_CLUSTER: cluster,
      LANEWAY_SERVER_NAME: 's1',
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: await api.joinToken(cluster),
    });
    const first = await api.deploy(cluster, [{ path: 'hostile/greet.ts', content: greet(1) }]);
    expect(first.servers.map((s) => [s.server, s.outcome, s.appliedRevision])).toEqual([['s1', ApplyOutcome.APPLY_OUTCOME_ACKED, 1]]);
  });

  afterAll(async () => {
    api?.close();
    await server?.stop();
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers a file nested 5,000 levels deep (a compiler segfault) with INVALID_ARGUMENT naming it', async () => {
    const deep = `export default ${'['.repeat(5000)}${']'.repeat(5000)};\n`;
    const err = await failure(api.deploy(cluster, [{ path: 'hostile/greet.ts', content: greet(9) }, { path: 'gen/deep.ts', content: deep }]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe('gen/deep.ts: the compiler crashed on this file (SIGSEGV): nesting too deep?');
    expect(err.ms).toBeLessThan(10_000);
  });

  it('answers a top level that allocates without bound with INVALID_ARGUMENT naming the file', async () => {
    const hog = `${SDK}const keep: unknown[] = [];\nfor (;;) keep.push(new Array(1e7).fill(0));\n`;
    const err = await failure(api.deploy(cluster, [{ path: 'hostile/hog.ts', content: hog }]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    // Either V8 gave up (over the limit), or the deadline came first while it was near the limit.
    expect(err.details).toMatch(/^hostile\/hog\.ts: loading used (more than \d+ MB|\d+ MB, near its \d+ MB limit) \(LANEWAY_COMPILE_MAX_HEAP_MB\)/);
    expect(err.ms).toBeLessThan(15_000);
  });

  it('answers a top level that never ends after the load timeout, while other RPCs carry on', async () => {
    const endless = api.deploy(cluster, [{ path: 'hostile/loop.ts', content: `${SDK}for (;;) {}\n` }]);
    let endlessSettled = false;
    void endless.catch(() => undefined).finally(() => (endlessSettled = true));
    // Meanwhile the API answers, and the server runs calls for a client of the control plane.
    const [servers, call] = await Promise.all([api.listServers(cluster), api.invoke(cluster, 'hostile.greet', {})]);
    expect(endlessSettled).toBe(false);
    expect(servers.servers.map((s) => [s.name, s.connected])).toEqual([['s1', true]]);
    expect(JSON.parse(call.outputJson)).toEqual({ version: 1 });
    const err = await failure(endless);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^hostile\/loop\.ts: top-level code ran past \d+ ms \(LANEWAY_LOAD_TIMEOUT_MS\)/);
    expect(err.ms).toBeLessThan(10_000);
  });

  it('answers a 50 MB file with RESOURCE_EXHAUSTED naming the limit', async () => {
    const big = `export const blob = '${'x'.repeat(50 * 1024 * 1024)}';\n`;
    const err = await failure(api.deploy(cluster, [{ path: 'hostile/big.ts', content: big }]));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toContain('hostile/big.ts');
    expect(err.details).toContain('LANEWAY_MAX_FILE_BYTES');
    // Most of it is moving 50 MB through gRPC on both sides (2-10 s here while other tests ran).
    expect(err.ms).toBeLessThan(30_000);
  });

  it('answers 20,000 tiny files with RESOURCE_EXHAUSTED naming the limit', async () => {
    const files = Array.from({ length: 20_000 }, (_, n) => ({ path: `tiny/t${n}.ts`, content: `${SDK}export default defineService({ name: 'tiny.t${n}', handle: () => ${n} });\n` }));
    const err = await failure(api.deploy(cluster, files));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toContain('20000');
    expect(err.details).toContain('LANEWAY_MAX_DEPLOY_FILES');
    expect(err.ms).toBeLessThan(10_000);
  });

  it('changed nothing: the control plane is alive, the server still connected at the same revision', async () => {
    expect(cp.process.alive).toBe(true);
    const listed = await api.listServices(cluster);
    expect(listed.revision).toBe(1);
    expect(listed.services.map((s) => s.name)).toEqual(['hostile.greet']);
    const servers = await api.listServers(cluster);
    expect(servers.servers.map((s) => [s.name, s.connected, s.appliedRevision])).toEqual([['s1', true, 1]]);
    // The server's stream never dropped.
    expect(server.lines.filter((l) => l.msg === 'sync stream lost; reconnecting')).toEqual([]);
  });

  it('then deploys and invokes as usual', async () => {
    const next = await api.deploy(cluster, [{ path: 'hostile/greet.ts', content: greet(2) }]);
    expect(next.revision).toBe(2);
    expect(next.servers.map((s) => [s.server, s.outcome, s.appliedRevision])).toEqual([['s1', ApplyOutcome.APPLY_OUTCOME_ACKED, 2]]);
    expect(JSON.parse((await api.invoke(cluster, 'hostile.greet', {})).outputJson)).toEqual({ version: 2 });
  });
});
