import { status } from '@grpc/grpc-js';
import { ApplyOutcome, JobState, Lane } from '@laneway/proto';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  cleanRedisPrefix,
  eventually,
  freePort,
  REDIS_URL,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

// Every service file starts with this: one lazily created Redis client per module, used to record
// side effects where the test can see them. (In the control plane's inspection sandbox `require`
// returns an inert stand-in, and nothing here runs before `handle`.)
const header = `
const { defineService } = require('@laneway/sdk');
const { Redis } = require('ioredis');
const clients = new Map();
function redis(url) {
  let c = clients.get(url);
  if (!c) {
    c = new Redis(url, { maxRetriesPerRequest: 3 });
    clients.set(url, c);
  }
  return c;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
`;

// Counts every execution (runs), the executions under way per server (inflight:<server>), and the
// invocations done at least once (done, a set: re-running a job adds nothing).
const durable = `${header}
exports.default = defineService({
  name: 'lw.durable',
  async handle(input, ctx) {
    const r = redis(input.redis);
    await r.multi().incr(input.keys + ':runs').incr(input.keys + ':inflight:' + ctx.server).exec();
    await sleep(20);
    await r.multi().sadd(input.keys + ':done', ctx.invocationId).decr(input.keys + ':inflight:' + ctx.server).exec();
    return { id: ctx.invocationId };
  },
});
`;

const deadLetter = (fixed: boolean): string => `${header}
exports.default = defineService({
  name: 'lw.deadletter',
  attempts: 2,
  handle(input) {
    ${fixed ? 'return { fixed: true, order: input.order };' : "throw new Error('downstream is down for order ' + input.order);"}
  },
});
`;

const echo = `${header}
exports.default = defineService({
  name: 'lw.echo',
  async handle(input, ctx) {
    if (input && input.sleepMs) await sleep(input.sleepMs);
    return { n: input.n, tag: input.tag, server: ctx.server };
  },
});
`;

const cpuServices = `${header}
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
exports.spin = defineService({
  name: 'lw.spin',
  lane: 'cpu',
  handle() {
    for (;;) {}
  },
});
exports.fib = defineService({
  name: 'lw.fib',
  lane: 'cpu',
  handle(input, ctx) {
    return { fib: fib(input.n), server: ctx.server, main: require('node:worker_threads').isMainThread };
  },
});
`;

const policies = `${header}
exports.slowpoke = defineService({
  name: 'lw.slowpoke',
  timeoutMs: 300,
  async handle() {
    await sleep(2000);
    return { finished: true };
  },
});
// Waits for its signal: it records when the deadline aborted it.
exports.patient = defineService({
  name: 'lw.patient',
  timeoutMs: 300,
  async handle(input, ctx) {
    const started = Date.now();
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    await redis(input.redis).set(input.key, JSON.stringify({ aborted: ctx.signal.aborted, afterMs: Date.now() - started }));
    return 'too late';
  },
});
// At most 2 at once per server. Each execution records how many were running when it started
// (INCR returns the new count atomically); the test takes the maximum.
exports.bulkhead = defineService({
  name: 'lw.bulkhead',
  concurrency: 2,
  async handle(input, ctx) {
    const r = redis(input.redis);
    const key = input.keys + ':cur:' + ctx.server;
    const now = await r.incr(key);
    await r.rpush(input.keys + ':seen:' + ctx.server, String(now));
    await sleep(200);
    await r.decr(key);
    return { n: input.n, server: ctx.server };
  },
});
`;

const where = (lane: 'network' | 'cpu', version: number): string => `${header}
exports.default = defineService({
  name: 'lw.where',
  lane: '${lane}',
  handle(input, ctx) {
    return { version: ${version}, main: require('node:worker_threads').isMainThread, server: ctx.server };
  },
});
`;

const busyCpu = (version: number): string => `${header}
exports.default = defineService({
  name: 'lw.busy',
  lane: 'cpu',
  handle(input, ctx) {
    const end = Date.now() + (input.ms || 0);
    while (Date.now() < end) {}
    return { version: ${version}, server: ctx.server };
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

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

const NETWORK_CONCURRENCY = 50;
const SHUTDOWN_TIMEOUT_MS = 8000;

describe('lanes: durable async, dead letters, CPU isolation, policies, shutdown (issue 4)', () => {
  const prefix = uniqueName('lwlanes');
  const cluster = uniqueName('lanes');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-lanes-'));
  let cp: ControlPlaneHandle;
  let api: Api;
  let joinToken: string;
  let redis: Redis;
  const servers = new Map<string, AppProcess>();
  const httpPorts = new Map<string, number>();

  const serverEnv = (name: string): Record<string, string> => ({
    LANEWAY_CONTROL_PLANE: cp.address,
    LANEWAY_CLUSTER: cluster,
    LANEWAY_SERVER_NAME: name,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_JOIN_TOKEN: joinToken,
    // A dead server's jobs are taken over within a few seconds.
    LANEWAY_JOB_LOCK_MS: '2000',
    LANEWAY_NETWORK_CONCURRENCY: String(NETWORK_CONCURRENCY),
    LANEWAY_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    LANEWAY_HTTP_ADDR: `127.0.0.1:${httpPorts.get(name)}`,
  });

  const health = async (name: string): Promise<{ networkFetchers: number; inFlight: number }> =>
    (await fetch(`http://127.0.0.1:${httpPorts.get(name)}/healthz`)).json() as Promise<{ networkFetchers: number; inFlight: number }>;

  /** (Re)starts a server and waits until the control plane sees every server converged. */
  async function restart(name: string): Promise<void> {
    servers.set(name, await startServer(serverEnv(name)));
    await eventually(
      () => api.deploymentStatus(cluster),
      (st) => st.servers.filter((s) => s.connected && s.converged).length === servers.size,
    );
  }

  beforeAll(async () => {
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix });
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    joinToken = await api.joinToken(cluster);
    redis = new Redis(REDIS_URL);
    httpPorts.set('s1', await freePort());
    httpPorts.set('s2', await freePort());
    const [s1, s2] = await Promise.all([startServer(serverEnv('s1')), startServer(serverEnv('s2'))]);
    servers.set('s1', s1!);
    servers.set('s2', s2!);
    const deployed = await api.deploy(cluster, [
      { path: 'lanes/durable.js', content: durable },
      { path: 'lanes/deadletter.js', content: deadLetter(false) },
      { path: 'lanes/echo.js', content: echo },
      { path: 'lanes/cpu.js', content: cpuServices },
      { path: 'lanes/policies.js', content: policies },
    ]);
    expect(deployed.servers.map((s) => s.outcome)).toEqual([ApplyOutcome.APPLY_OUTCOME_ACKED, ApplyOutcome.APPLY_OUTCOME_ACKED]);
  });

  afterAll(async () => {
    api?.close();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await cp?.process.stop();
    await redis?.quit();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('completes every durable async invocation exactly once (as a set) after a server is killed mid-flight', async () => {
    const keys = `${prefix}:dur`;
    const total = 1000;
    // Queue everything first (both servers drained), so that the kill finds jobs both in flight and queued.
    await Promise.all([api.drain(cluster, 's1'), api.drain(cluster, 's2')]);
    const jobIds = (
      await inBatches(Array.from({ length: total }), 250, () => api.invokeAsync(cluster, 'lw.durable', { redis: REDIS_URL, keys }))
    ).map((r) => r.jobId);
    expect(new Set(jobIds).size).toBe(total);
    expect(await redis.scard(`${keys}:done`)).toBe(0);
    try {
      await Promise.all([api.resume(cluster, 's1'), api.resume(cluster, 's2')]);
      // Kill s1 once both servers are well under way. ResumeServer returns once s1 has confirmed it, but
      // its worker fetches again only after that; s2 alone finishes 300 jobs in about 150 ms, and in one
      // CI run s1 had started none by then (so nothing ran twice). Wait for s1 to be in a handler too.
      await eventually(
        async () => ({ done: await redis.scard(`${keys}:done`), s1: Number(await redis.get(`${keys}:inflight:s1`)) }),
        (n) => n.done >= 300 && n.s1 > 0,
        20_000,
      );
      await servers.get('s1')!.kill9();
      const doneAtKill = await redis.scard(`${keys}:done`);
      // Executions s1 started and never finished: they must run again elsewhere.
      const cutOff = Number(await redis.get(`${keys}:inflight:s1`));
      expect(doneAtKill).toBeLessThan(total);

      await eventually(
        () => redis.scard(`${keys}:done`),
        (n) => n === total,
        40_000,
      );
      const done = await redis.smembers(`${keys}:done`);
      expect(new Set(done)).toEqual(new Set(jobIds));

      // Completion is recorded just after the service's effect: give the last few a moment.
      await eventually(
        () => inBatches(jobIds, 100, (id) => api.getJob(cluster, id)),
        (jobs) => jobs.every((j) => j.state === JobState.JOB_STATE_COMPLETED),
      );
      const sample = await Promise.all(jobIds.filter((_, n) => n % 20 === 0).map((id) => api.getJob(cluster, id)));
      for (const job of sample) {
        expect(job).toMatchObject({ service: 'lw.durable', state: JobState.JOB_STATE_COMPLETED });
        expect(JSON.parse(job.outputJson)).toEqual({ id: job.jobId });
      }
      expect((await api.listFailedJobs(cluster, 'lw.durable')).jobs).toEqual([]);

      const runs = Number(await redis.get(`${keys}:runs`));
      const reruns = runs - total;
      console.log(
        `durable async: ${total} jobs; s1 killed with ${doneAtKill} done and ${cutOff} executions mid-handler on it; ` +
          `${runs} executions in all, ${reruns} re-runs (at-least-once delivery)`,
      );
      expect(runs).toBeGreaterThanOrEqual(total);
      // s1 was killed while it had work: jobs cut off mid-handler, or finished but not yet recorded.
      expect(reruns).toBeGreaterThan(0);
      // Every execution cut off on s1 ran again; only jobs in flight on s1 can run twice.
      expect(reruns).toBeGreaterThanOrEqual(cutOff);
      expect(reruns).toBeLessThanOrEqual(NETWORK_CONCURRENCY);
    } finally {
      if (!servers.get('s1')!.alive) await restart('s1');
      await Promise.all([api.resume(cluster, 's1'), api.resume(cluster, 's2')]);
    }
  }, 90_000);

  it('keeps a job that used up its attempts as a dead letter, and retries it once the service is fixed', async () => {
    const { jobId } = await api.invokeAsync(cluster, 'lw.deadletter', { order: 42 });
    const failed = await eventually(
      () => api.listFailedJobs(cluster, 'lw.deadletter'),
      (r) => r.jobs.length > 0,
      15_000,
    );
    expect(failed.jobs).toHaveLength(1);
    const dead = failed.jobs[0]!;
    expect(dead).toMatchObject({ jobId, service: 'lw.deadletter', state: JobState.JOB_STATE_FAILED, attemptsMade: 2 });
    expect(dead.failedReason).toContain('downstream is down for order 42');
    expect(JSON.parse(dead.inputJson)).toEqual({ order: 42 });
    expect((await api.getJob(cluster, jobId)).state).toBe(JobState.JOB_STATE_FAILED);

    const fixed = await api.deploy(cluster, [{ path: 'lanes/deadletter.js', content: deadLetter(true) }]);
    expect(fixed.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    const retried = await api.retryJob(cluster, jobId);
    expect(retried.jobId).toBe(jobId);
    expect(retried.state).not.toBe(JobState.JOB_STATE_FAILED);
    // The first reply that says COMPLETED carries the output (state is read before the job's data).
    const completed = await eventually(
      () => api.getJob(cluster, jobId),
      (j) => j.state === JobState.JOB_STATE_COMPLETED,
    );
    expect(JSON.parse(completed.outputJson)).toEqual({ fixed: true, order: 42 });
    expect(completed.finishedAt).not.toBe('');
    expect((await api.listFailedJobs(cluster, 'lw.deadletter')).jobs).toEqual([]);

    const again = await grpcError(api.retryJob(cluster, jobId));
    expect(again.code).toBe(status.FAILED_PRECONDITION);
    expect(again.details).toContain(jobId);
    expect(again.details).toContain('completed');

    const unknown = await grpcError(api.getJob(cluster, 'no-such-job-123'));
    expect(unknown.code).toBe(status.NOT_FOUND);
    expect(unknown.details).toContain('no-such-job-123');
  });

  it('stops a runaway CPU-lane service at its deadline without hurting either lane', async () => {
    const started = Date.now();
    const spinning = grpcError(api.invoke(cluster, 'lw.spin', {}, 1000));
    // The network lane answers promptly while a CPU thread spins.
    await new Promise((r) => setTimeout(r, 200));
    for (let n = 0; n < 5; n++) {
      const t = Date.now();
      const r = await api.invoke(cluster, 'lw.echo', { n, tag: 'during' });
      expect(JSON.parse(r.outputJson)).toMatchObject({ n, tag: 'during' });
      expect(Date.now() - t).toBeLessThan(500);
    }
    const err = await spinning;
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(err.details).toContain("'lw.spin'");
    expect(Date.now() - started).toBeLessThan(4000);

    for (let round = 0; round < 5; round++) {
      const [cpu, net] = await Promise.all([
        api.invoke(cluster, 'lw.fib', { n: 20 }, 10_000),
        api.invoke(cluster, 'lw.echo', { n: round, tag: 'after' }, 10_000),
      ]);
      expect(JSON.parse(cpu.outputJson)).toMatchObject({ fib: 6765, main: false });
      expect(JSON.parse(net.outputJson)).toMatchObject({ n: round, tag: 'after' });
    }
    // Both servers' CPU lanes still work (each has one thread; one was replaced).
    const many = await Promise.all(Array.from({ length: 12 }, () => api.invoke(cluster, 'lw.fib', { n: 22 }, 10_000)));
    for (const r of many) expect(JSON.parse(r.outputJson)).toMatchObject({ fib: 17711, main: false });
    expect(new Set(many.map((r) => r.server))).toEqual(new Set(['s1', 's2']));
  });

  it("applies a service's timeout even when the caller allows more", async () => {
    const started = Date.now();
    const err = await grpcError(api.invoke(cluster, 'lw.slowpoke', {}, 10_000));
    const took = Date.now() - started;
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(err.details).toContain("'lw.slowpoke'");
    expect(took).toBeLessThan(1500);
  });

  it("aborts a network-lane service's signal at its deadline", async () => {
    const key = `${prefix}:patient`;
    const err = await grpcError(api.invoke(cluster, 'lw.patient', { redis: REDIS_URL, key }, 10_000));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    const seen = await eventually(() => redis.get(key), (v) => v !== null, 5000);
    const record = JSON.parse(seen!) as { aborted: boolean; afterMs: number };
    expect(record.aborted).toBe(true);
    expect(record.afterMs).toBeGreaterThanOrEqual(250);
    expect(record.afterMs).toBeLessThan(1500);
  });

  it("caps a service's concurrent executions on one server", async () => {
    const keys = `${prefix}:bulk`;
    await api.drain(cluster, 's2');
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, n) => api.invoke(cluster, 'lw.bulkhead', { n, redis: REDIS_URL, keys }, 15_000)),
      );
      results.forEach((r, n) => expect(JSON.parse(r.outputJson)).toEqual({ n, server: 's1' }));
      const seen = (await redis.lrange(`${keys}:seen:s1`, 0, -1)).map(Number);
      expect(seen).toHaveLength(10);
      expect(Math.max(...seen)).toBe(2);
      expect(await redis.exists(`${keys}:seen:s2`)).toBe(0);
    } finally {
      await api.resume(cluster, 's2');
    }
  });

  it('returns every one of 500 concurrent sync invocations to its own caller', async () => {
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, n) => api.invoke(cluster, 'lw.echo', { n, tag: `call-${n}`, sleepMs: n % 7 })),
    );
    results.forEach((r, n) => {
      expect(JSON.parse(r.outputJson)).toEqual({ n, tag: `call-${n}`, server: r.server });
    });
    expect(new Set(results.map((r) => r.server))).toEqual(new Set(['s1', 's2']));
  });

  it('runs the extra network fetcher only while the lane is busy', async () => {
    // Quiet lane: one fetcher (a lone call is picked up fastest that way).
    await eventually(() => health('s1'), (h) => h.networkFetchers === 1);
    const calls = Promise.all(Array.from({ length: 40 }, (_, n) => api.invoke(cluster, 'lw.echo', { n, tag: 'busy', sleepMs: 1500 })));
    // About 20 calls in flight per server: both fetchers run.
    const busy = await eventually(() => health('s1'), (h) => h.networkFetchers === 2 && h.inFlight >= 4, 5000);
    expect(busy.networkFetchers).toBe(2);
    const results = await calls;
    results.forEach((r, n) => expect(JSON.parse(r.outputJson)).toMatchObject({ n, tag: 'busy' }));
    // A quiet period later the extra fetcher stops, and calls are still served.
    const quiet = await eventually(() => health('s1'), (h) => h.networkFetchers === 1, 5000);
    expect(quiet.inFlight).toBe(0);
    const after = await Promise.all(Array.from({ length: 3 }, (_, n) => api.invoke(cluster, 'lw.echo', { n, tag: 'after' })));
    after.forEach((r, n) => expect(JSON.parse(r.outputJson)).toMatchObject({ n, tag: 'after' }));
  });

  it('moves a service to the other lane when it is redeployed with another lane', async () => {
    const asNetwork = await api.deploy(cluster, [{ path: 'lanes/where.js', content: where('network', 1) }]);
    expect(asNetwork.services.map((s) => [s.name, s.lane])).toEqual([['lw.where', Lane.LANE_NETWORK]]);
    for (const r of await Promise.all(Array.from({ length: 10 }, () => api.invoke(cluster, 'lw.where', {})))) {
      expect(JSON.parse(r.outputJson)).toMatchObject({ version: 1, main: true });
    }

    const asCpu = await api.deploy(cluster, [{ path: 'lanes/where.js', content: where('cpu', 2) }]);
    expect(asCpu.services.map((s) => [s.name, s.lane])).toEqual([['lw.where', Lane.LANE_CPU]]);
    expect(asCpu.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    const onCpu = await Promise.all(Array.from({ length: 10 }, () => api.invoke(cluster, 'lw.where', {})));
    for (const r of onCpu) expect(JSON.parse(r.outputJson)).toMatchObject({ version: 2, main: false });
    const listed = await api.listServices(cluster);
    expect(listed.services.find((s) => s.name === 'lw.where')?.lane).toBe(Lane.LANE_CPU);

    // And back.
    await api.deploy(cluster, [{ path: 'lanes/where.js', content: where('network', 3) }]);
    for (const r of await Promise.all(Array.from({ length: 10 }, () => api.invoke(cluster, 'lw.where', {})))) {
      expect(JSON.parse(r.outputJson)).toMatchObject({ version: 3, main: true });
    }
  });

  it('deploys a new CPU-lane version while every CPU thread is busy, without waiting for the running jobs', async () => {
    await api.deploy(cluster, [{ path: 'lanes/busy.js', content: busyCpu(1) }]);
    // One CPU thread per server here: two long jobs occupy both servers' threads.
    const long = [1, 2].map(() => api.invoke(cluster, 'lw.busy', { ms: 3000 }, 20_000));
    await eventually(
      async () => Promise.all(['s1', 's2'].map(health)),
      (all) => all.every((h) => h.inFlight >= 1),
    );
    const started = Date.now();
    const deployed = await api.deploy(cluster, [{ path: 'lanes/busy.js', content: busyCpu(2) }]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(deployed.servers.map((s) => s.outcome)).toEqual([ApplyOutcome.APPLY_OUTCOME_ACKED, ApplyOutcome.APPLY_OUTCOME_ACKED]);
    // A call made now runs once a CPU slot frees up (the lane takes as many jobs as it has
    // threads), on the new version; the long jobs end on the version they started with.
    const fresh = api.invoke(cluster, 'lw.busy', { ms: 0 }, 10_000);
    for (const r of await Promise.all(long)) expect(JSON.parse(r.outputJson)).toMatchObject({ version: 1 });
    expect(JSON.parse((await fresh).outputJson)).toMatchObject({ version: 2 });
    for (const r of await Promise.all(Array.from({ length: 6 }, () => api.invoke(cluster, 'lw.busy', { ms: 10 }, 10_000)))) {
      expect(JSON.parse(r.outputJson)).toMatchObject({ version: 2 });
    }
  });

  it('shuts a server down gracefully on SIGTERM: in-flight calls finish, queued ones go elsewhere, exit 0', async () => {
    const calls = Array.from({ length: 20 }, (_, n) => api.invoke(cluster, 'lw.echo', { n, tag: 'slow', sleepMs: 1000 }, 15_000));
    await new Promise((r) => setTimeout(r, 300));
    const s2 = servers.get('s2')!;
    const stopping = Date.now();
    await s2.stop(SHUTDOWN_TIMEOUT_MS + 5000);
    const stopMs = Date.now() - stopping;
    expect(s2.child.signalCode).toBeNull();
    expect(s2.child.exitCode).toBe(0);
    expect(stopMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(s2.lines.some((l) => l.msg === 'server stopped')).toBe(true);

    const results = await Promise.all(calls);
    results.forEach((r, n) => expect(JSON.parse(r.outputJson)).toEqual({ n, tag: 'slow', server: r.server }));
    // s2 finished the calls it had in flight before exiting.
    expect(results.some((r) => r.server === 's2')).toBe(true);
    // The cluster keeps serving on s1.
    const after = await Promise.all(Array.from({ length: 10 }, (_, n) => api.invoke(cluster, 'lw.echo', { n, tag: 'after-stop' })));
    expect(new Set(after.map((r) => r.server))).toEqual(new Set(['s1']));
  });
});
