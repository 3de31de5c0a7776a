import { credentials, status } from '@grpc/grpc-js';
import { ApplyOutcome, HealthCheckResponse_ServingStatus, HealthClient, JobState, Lane, type HealthCheckResponse } from '@laneway/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  cleanRedisPrefix,
  createTestDatabase,
  eventually,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

const echo = (version: number): string => `
import { defineService } from '@laneway/sdk';

export default defineService({
  name: 'e2e.echo',
  lane: 'network',
  async handle(input: { delayMs?: number; value?: unknown }, ctx) {
    // A little I/O wait, so that concurrent calls spread over both replicas.
    await new Promise((r) => setTimeout(r, input.delayMs ?? 0));
    return { version: ${version}, value: input.value, server: ctx.server };
  },
});
`;

const cpuServices = `
import { defineService } from '@laneway/sdk';

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export const fibonacci = defineService({
  name: 'e2e.fib',
  lane: 'cpu',
  handle(input: { n: number }, ctx) {
    return { fib: fib(input.n), server: ctx.server };
  },
});

export const failing = defineService({
  name: 'e2e.fail',
  handle() {
    throw new Error('the database said no');
  },
});

export const chain = defineService({
  name: 'e2e.chain',
  async handle(input: { n: number }, ctx) {
    const [cpu, local] = await Promise.all([
      ctx.invoke<{ fib: number }>('e2e.fib', { n: input.n }),
      ctx.invoke<{ version: number }>('e2e.echo', { value: 'nested' }),
    ]);
    return { fib: cpu.fib, echoVersion: local.version };
  },
});

export const enqueue = defineService({
  name: 'e2e.enqueue',
  lane: 'cpu',
  async handle(input: { value: string }, ctx) {
    return { jobId: await ctx.invokeAsync('e2e.echo', { value: input.value }) };
  },
});
`;

function grpcError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: { code: number; details: string }) => err,
  );
}

describe.each([
  ['SQLite (embedded default)', false],
  ['PostgreSQL', true],
])('walking skeleton with %s as the store', (_label, usePostgres) => {
  const prefix = uniqueName('lwe2e');
  const cluster = uniqueName('skeleton');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-e2e-'));
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let cp: ControlPlaneHandle;
  let servers: AppProcess[] = [];
  let api: Api;

  beforeAll(async () => {
    const env: Record<string, string> = { LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' };
    if (usePostgres) {
      db = await createTestDatabase();
      env['DATABASE_URL'] = db.url;
    }
    cp = await startControlPlane(env);
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    const joinToken = await api.joinToken(cluster);
    const serverEnv = (name: string): Record<string, string> => ({
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_CLUSTER: cluster,
      LANEWAY_SERVER_NAME: name,
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: joinToken,
    });
    servers = await Promise.all([startServer(serverEnv('s1')), startServer(serverEnv('s2'))]);
  });

  afterAll(async () => {
    api?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts with a default cluster, and rejects a duplicate cluster name', async () => {
    expect((await api.getCluster('default')).name).toBe('default');
    const err = await grpcError(api.createCluster(cluster));
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(err.details).toContain(`'${cluster}'`);
  });

  it('answers grpc.health.v1 Check SERVING without a token, overall and per service (the built bundle needs no .proto file)', async () => {
    const health = new HealthClient(cp.address, credentials.createInsecure());
    try {
      for (const service of ['', 'laneway.v1.DeployService']) {
        const res = await new Promise<HealthCheckResponse>((resolve, reject) =>
          health.check({ service }, (err, r) => (err ? reject(err) : resolve(r))),
        );
        expect(HealthCheckResponse_ServingStatus[res.status], service).toBe('SERVING');
      }
    } finally {
      health.close();
    }
  });

  it('deploys a network-lane and a CPU-lane service, ACKed by both replicas', async () => {
    const response = await api.deploy(cluster, [
      { path: 'e2e/echo.ts', content: echo(1) },
      { path: 'e2e/cpu.ts', content: cpuServices },
    ]);
    expect(response.revision).toBe(1);
    expect(response.services.map((s) => [s.name, s.lane]).sort()).toEqual([
      ['e2e.chain', Lane.LANE_NETWORK],
      ['e2e.echo', Lane.LANE_NETWORK],
      ['e2e.enqueue', Lane.LANE_CPU],
      ['e2e.fail', Lane.LANE_NETWORK],
      ['e2e.fib', Lane.LANE_CPU],
    ]);
    expect(response.servers.map((s) => [s.server, s.outcome, s.appliedRevision]).sort()).toEqual([
      ['s1', ApplyOutcome.APPLY_OUTCOME_ACKED, 1],
      ['s2', ApplyOutcome.APPLY_OUTCOME_ACKED, 1],
    ]);
    const listed = await api.listServers(cluster);
    expect(listed.servers.map((s) => [s.name, s.connected, s.appliedRevision])).toEqual([
      ['s1', true, 1],
      ['s2', true, 1],
    ]);
  });

  it('runs network-lane calls on both replicas', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, n) => api.invoke(cluster, 'e2e.echo', { value: n, delayMs: 20 })),
    );
    results.forEach((r, n) => expect(JSON.parse(r.outputJson)).toMatchObject({ version: 1, value: n, server: r.server }));
    expect(new Set(results.map((r) => r.server))).toEqual(new Set(['s1', 's2']));
  });

  it('runs CPU-lane calls in worker threads on both replicas', async () => {
    const results = await Promise.all(Array.from({ length: 16 }, () => api.invoke(cluster, 'e2e.fib', { n: 27 })));
    for (const r of results) expect(JSON.parse(r.outputJson)).toEqual({ fib: 196418, server: r.server });
    expect(new Set(results.map((r) => r.server))).toEqual(new Set(['s1', 's2']));
  });

  it('lets a service invoke others, in-process and across lanes', async () => {
    const r = await api.invoke(cluster, 'e2e.chain', { n: 20 });
    expect(JSON.parse(r.outputJson)).toEqual({ fib: 6765, echoVersion: 1 });
  });

  it('queues durable async invocations, also from inside a service', async () => {
    const direct = await api.invokeAsync(cluster, 'e2e.echo', { value: 'direct' });
    const nested = JSON.parse((await api.invoke(cluster, 'e2e.enqueue', { value: 'nested' })).outputJson) as { jobId: string };
    for (const [jobId, value] of [
      [direct.jobId, 'direct'],
      [nested.jobId, 'nested'],
    ] as const) {
      const job = await eventually(
        () => api.getJob(cluster, jobId),
        (j) => j.state === JobState.JOB_STATE_COMPLETED,
      );
      expect(job.service).toBe('e2e.echo');
      expect(JSON.parse(job.outputJson)).toMatchObject({ version: 1, value });
    }
  });

  it('reports bad calls with the status and the offending value', async () => {
    const missing = await grpcError(api.invoke(cluster, 'e2e.nope', {}));
    expect(missing.code).toBe(status.NOT_FOUND);
    expect(missing.details).toContain("service 'e2e.nope' is not deployed");
    const unknownCluster = await grpcError(api.invoke('no-such-cluster', 'e2e.echo', {}));
    expect(unknownCluster.code).toBe(status.NOT_FOUND);
    expect(unknownCluster.details).toContain("cluster 'no-such-cluster'");
    const failed = await grpcError(api.invoke(cluster, 'e2e.fail', {}));
    expect(failed.code).toBe(status.UNKNOWN);
    expect(failed.details).toContain('the database said no');
    expect(failed.details).not.toMatch(/\n\s+at /);
  });

  it('hot-deploys a new version: every call after Deploy returns runs it', async () => {
    const before = await api.listServices(cluster);
    const response = await api.deploy(cluster, [{ path: 'e2e/echo.ts', content: echo(2) }]);
    expect(response.revision).toBe(before.revision + 1);
    expect(response.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    const results = await Promise.all(Array.from({ length: 50 }, () => api.invoke(cluster, 'e2e.echo', { delayMs: 5 })));
    expect(results.map((r) => JSON.parse(r.outputJson).version)).toEqual(Array(50).fill(2));
    expect(new Set(results.map((r) => r.server))).toEqual(new Set(['s1', 's2']));
    // The servers were never restarted.
    expect(servers.every((s) => s.alive)).toBe(true);
  });

  it('rejects a syntax error with file:line:col and keeps the previous version serving', async () => {
    const before = await api.listServices(cluster);
    const broken = echo(3).replace('return {', 'return {{');
    const err = await grpcError(api.deploy(cluster, [{ path: 'e2e/echo.ts', content: broken }]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^e2e\/echo\.ts:\d+:\d+: /);
    const after = await api.listServices(cluster);
    expect(after).toEqual(before);
    const r = await api.invoke(cluster, 'e2e.echo', {});
    expect(JSON.parse(r.outputJson).version).toBe(2);
  });

  it('rejects a file whose top-level code throws, changing nothing', async () => {
    const before = await api.listServices(cluster);
    const err = await grpcError(api.deploy(cluster, [{ path: 'e2e/boom.js', content: 'throw new Error("no config");' }]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toContain('e2e/boom.js: loading failed: no config');
    expect(await api.listServices(cluster)).toEqual(before);
  });
});
