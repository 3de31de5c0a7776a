// Invoke benchmark (issue 4): caller and server replica in separate processes, local Redis.
//   npm run bench -- invoke [--smoke]
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { LaneClient, laneQueueName } from '@laneway/lanes';
import { REDIS_URL, uniqueName } from '@laneway/testkit';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { cpuSecondsOf, treeCpuSecondsOf } from '../lib/proc-cpu';
import { median, percentile, report, round } from '../lib/stats';
import { closedLoop, startBenchCluster } from '../lib/replica';

/** What Redis and some processes spent per unit of work (a call, a job) between two readings. */
interface Work {
  /** Commands Redis ran (scripts' inner ones included: Redis 7 counts them under their own names), all clients. */
  redisCalls: number;
  /** Redis's time in those commands, µs. */
  redisUs: number;
  /** CPU µs of each named process (this one alone; another with those under it; NaN where /proc could not be read). */
  cpu: Record<string, number>;
}

/** Redis's command count and time so far (INFO commandstats), and each process's CPU seconds so far. */
async function reading(redis: Redis, pids: Record<string, number | undefined>): Promise<{ calls: number; usec: number; cpu: Record<string, number | undefined> }> {
  let calls = 0;
  let usec = 0;
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_[^:]+:calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  // This process alone: the control plane, the servers and the baseline worker are its children, and
  // a tree reading would count their CPU as the caller's (the adder's) too.
  const cpu = (pid: number | undefined): number | undefined => (pid === process.pid ? cpuSecondsOf(pid) : treeCpuSecondsOf(pid));
  return { calls, usec, cpu: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpu(pid)])) };
}

/** Takes a reading now; the function it returns takes another and gives the difference per unit. */
async function startMeter(redis: Redis, pids: Record<string, number | undefined>): Promise<(units: number) => Promise<Work>> {
  const before = await reading(redis, pids);
  return async (units) => {
    const after = await reading(redis, pids);
    const cpu = Object.fromEntries(
      Object.keys(pids).map((name) => {
        const a = before.cpu[name];
        const b = after.cpu[name];
        return [name, a === undefined || b === undefined ? NaN : ((b - a) * 1e6) / units];
      }),
    );
    return { redisCalls: (after.calls - before.calls) / units, redisUs: (after.usec - before.usec) / units, cpu };
  };
}

/** The local Redis server's process (its CPU is read from /proc), or undefined for a Redis elsewhere. */
async function localRedisPid(redis: Redis): Promise<number | undefined> {
  if (!/^redis:\/\/(127\.0\.0\.1|localhost)[:/]/.test(REDIS_URL)) return undefined;
  const pid = /^process_id:(\d+)/m.exec(await redis.info('server'))?.[1];
  return pid === undefined ? undefined : Number(pid);
}

const smoke = process.argv.includes('--smoke');
const RUNS = smoke ? 1 : 5;
const SERIAL_CALLS = smoke ? 200 : 2000;
const LOOP_MS = smoke ? 1000 : 4000;
const RAW_JOBS = smoke ? 2000 : 20_000;
const LOCAL_CALLS = smoke ? 20_000 : 200_000;

function startBaselineWorker(prefix: string, queue: string, mode: 'echo' | 'count' | 'reply', count = 0): Promise<{ child: ChildProcess; done: Promise<void> }> {
  const child = spawn(process.execPath, [path.join(__dirname, '../../../node_modules/.bin/tsx'), path.join(__dirname, 'baseline-worker.ts'), prefix, queue, mode, String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  return new Promise((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (text.includes('ready')) resolve({ child, done });
      if (text.includes('done')) resolveDone();
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** Baseline: queue.add + job.waitUntilFinished(queueEvents) against a plain Worker in another process. */
async function baseline(): Promise<{ p50: number; p99: number; rps: number }> {
  const prefix = uniqueName('lwbase');
  const name = 'baseline';
  const { child } = await startBaselineWorker(prefix, name, 'echo');
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix });
  // Each waitUntilFinished listens for the queue's 'closing' event: 100 at once is expected here.
  queue.setMaxListeners(200);
  // From the start of this new queue's event stream, not from '$' (the default): a job that finished
  // before the reader's first XREAD would otherwise have its event missed (the first call once timed
  // out so). Nothing older is replayed: the prefix is new.
  const events = new QueueEvents(name, { connection: { url: REDIS_URL }, prefix, lastEventId: '0-0' });
  await events.waitUntilReady();
  // No removeOnComplete: with it, waitUntilFinished can fail with "Missing key ... isFinished".
  const call = async (): Promise<unknown> => (await queue.add('echo', { x: 1 })).waitUntilFinished(events, 10_000);
  try {
    for (let i = 0; i < 200; i++) await call();
    const serial: number[] = [];
    for (let i = 0; i < SERIAL_CALLS; i++) {
      const t = performance.now();
      await call();
      serial.push(performance.now() - t);
    }
    const loop = await closedLoop(100, LOOP_MS, call);
    return { p50: percentile(serial, 50), p99: percentile(serial, 99), rps: loop.perSecond };
  } finally {
    await stopChild(child);
    await events.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await connection.quit();
  }
}

/** Raw job rate: Queue.add with 100 adds in flight while a plain Worker (concurrency 100) drains them, no replies. */
async function rawJobRate(stats: Redis, redisPid: number | undefined): Promise<{ rate: number; work: Work }> {
  const prefix = uniqueName('lwraw');
  const { child, done } = await startBaselineWorker(prefix, 'raw', 'count', RAW_JOBS);
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('raw', { connection, prefix });
  // 100 adds in flight on one Queue: each waits on its 'closing' event.
  queue.setMaxListeners(200);
  try {
    const meter = await startMeter(stats, { adder: process.pid, worker: child.pid, redis: redisPid });
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (next < RAW_JOBS) {
          next++;
          await queue.add('raw', { x: 1 }, { removeOnComplete: true });
        }
      }),
    );
    await done;
    const rate = (RAW_JOBS / (performance.now() - started)) * 1000;
    return { rate, work: await meter(RAW_JOBS) };
  } finally {
    await stopChild(child);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await connection.quit();
  }
}

/**
 * The hop floor of a lone sync call: Laneway's caller (a LaneClient) against a plain BullMQ Worker that
 * answers each job with one PUBLISH and does nothing else (baseline-worker.ts, mode "reply"). It takes
 * the same hops as a call to a Laneway server (the add, the blocked fetch waking, moveToActive, the
 * reply), so its one-in-flight p50 is what a server over BullMQ can reach whatever it does per job.
 */
async function hopFloorP50(): Promise<number> {
  const prefix = uniqueName('lwfloor');
  const cluster = 'floor';
  const queueName = laneQueueName(cluster, 'network');
  const { child } = await startBaselineWorker(prefix, queueName, 'reply');
  const client = new LaneClient({ redis: REDIS_URL, prefix });
  const call = (): Promise<unknown> => client.invoke({ cluster, lane: 'network', service: 'bench.echo', input: { x: 1 }, timeoutMs: 10_000 });
  try {
    for (let i = 0; i < 200; i++) await call();
    return percentile(await serialLatencies(call, SERIAL_CALLS), 50);
  } finally {
    await stopChild(child);
    await client.close();
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(queueName, { connection, prefix });
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await connection.quit();
  }
}

/** One-in-flight latencies of `count` calls, in ms. */
async function serialLatencies(call: () => Promise<unknown>, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await call();
    latencies.push(performance.now() - t);
  }
  return latencies;
}

interface EchoCluster {
  call: () => Promise<unknown>;
  stop(): Promise<void>;
}

/** A cluster of its own with one replica (the bench's settings plus `env`), `bench.echo` deployed, and a warmed-up caller. */
async function echoCluster(env: Record<string, string>): Promise<EchoCluster> {
  const bench = await startBenchCluster({ servers: 1, serverEnv: { LANEWAY_NETWORK_CONCURRENCY: '100', LANEWAY_CPU_THREADS: '1', ...env } });
  const client = new LaneClient({ redis: REDIS_URL, prefix: bench.prefix });
  const stop = async (): Promise<void> => {
    await client.close();
    await bench.stop();
  };
  try {
    await bench.api.deploy(bench.cluster, [
      { path: 'bench/echo.ts', content: "import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'bench.echo', handle: (i: unknown) => i });\n" },
    ]);
    const call = () => client.invoke({ cluster: bench.cluster, lane: 'network', service: 'bench.echo', input: { x: 1 }, timeoutMs: 10_000 });
    for (let i = 0; i < 200; i++) await call();
    return { call, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const bench = await startBenchCluster({ servers: 1, serverEnv: { LANEWAY_NETWORK_CONCURRENCY: '100', LANEWAY_CPU_THREADS: '1' } });
  const { api, cluster, prefix } = bench;
  let lean: EchoCluster | undefined;
  // Reads Redis's command statistics (and its pid) around the 100-in-flight runs, sync and raw.
  const stats = new Redis(REDIS_URL);
  try {
    await api.deploy(cluster, [
      {
        path: 'bench/echo.ts',
        content: `import { defineService } from '@laneway/sdk';
export const echo = defineService({ name: 'bench.echo', handle: (input: unknown) => input });
export const loop = defineService({
  name: 'bench.local-loop',
  async handle(input: { n: number }, ctx) {
    const started = performance.now();
    for (let i = 0; i < input.n; i++) await ctx.invoke('bench.echo', i);
    return { ms: performance.now() - started };
  },
});
`,
      },
    ]);
    // The same server with its network concurrency below the calls in flight (60 < 100), measured
    // in the same runs: BullMQ's worker loop awaits each fetch of a new job before it starts the jobs
    // that completing ones fetched for it, and it fetches whenever it holds fewer jobs than its
    // concurrency; below the load it stops fetching and only chains.
    lean = await echoCluster({ LANEWAY_NETWORK_CONCURRENCY: '60' });
    const clients = { plain: new LaneClient({ redis: REDIS_URL, prefix }), batched: new LaneClient({ redis: REDIS_URL, prefix, batch: true }) };
    const redisPid = await localRedisPid(stats);
    const syncPids = { caller: process.pid, server: bench.servers[0]!.child.pid, redis: redisPid };
    const call = (client: LaneClient) => () => client.invoke({ cluster, lane: 'network', service: 'bench.echo', input: { x: 1 }, timeoutMs: 10_000 });

    const rows: Record<string, number[]> = {};
    const add = (key: string, value: number): void => void (rows[key] ??= []).push(value);
    /** A Work's figures as rows: `${prefix}redis_calls`, `${prefix}redis_us` and `${prefix}cpu_<process>`. */
    const addWork = (prefix: string, work: Work): void => {
      add(`${prefix}redis_calls`, work.redisCalls);
      add(`${prefix}redis_us`, work.redisUs);
      for (const [name, us] of Object.entries(work.cpu)) add(`${prefix}cpu_${name}`, us);
    };
    for (let run = 0; run < RUNS; run++) {
      const b = await baseline();
      add('baseline_p50', b.p50);
      add('baseline_p99', b.p99);
      add('baseline_rps', b.rps);
      const raw = await rawJobRate(stats, redisPid);
      add('raw', raw.rate);
      addWork('raw_', raw.work);

      // The hop floor right before Laneway's lone calls in even runs, right after them in odd ones
      // (whichever runs second here tends to read a little faster).
      if (run % 2 === 0) add('floor_p50', await hopFloorP50());
      for (let i = 0; i < 200; i++) await call(clients.plain)();
      const serial = await serialLatencies(call(clients.plain), SERIAL_CALLS);
      add('p50', percentile(serial, 50));
      if (run % 2 === 1) add('floor_p50', await hopFloorP50());
      add('p99', percentile(serial, 99));
      const meter = await startMeter(stats, syncPids);
      const loop = await closedLoop(100, LOOP_MS, call(clients.plain));
      addWork('', await meter(loop.latencies.length));
      add('rps', loop.perSecond);
      add('rps_batched', (await closedLoop(100, LOOP_MS, call(clients.batched))).perSecond);
      add('rps_c60', (await closedLoop(100, LOOP_MS, lean.call)).perSecond);
      const local = await clients.plain.invoke<{ ms: number }>({ cluster, lane: 'network', service: 'bench.local-loop', input: { n: LOCAL_CALLS }, timeoutMs: 60_000 });
      add('local', (LOCAL_CALLS / local.output.ms) * 1000);
    }
    await clients.plain.close();
    await clients.batched.close();
    await lean.stop();
    lean = undefined;

    // The same server with one BullMQ fetcher on the network lane (LANEWAY_NETWORK_FETCHERS=1; the default is 2).
    const one = await echoCluster({ LANEWAY_NETWORK_FETCHERS: '1' });
    try {
      for (let run = 0; run < RUNS; run++) {
        add('p50_1f', percentile(await serialLatencies(one.call, SERIAL_CALLS), 50));
        add('rps_1f', (await closedLoop(100, LOOP_MS, one.call)).perSecond);
      }
    } finally {
      await one.stop();
    }

    // A plain async function call in this process, for scale.
    const fn = async (x: unknown): Promise<unknown> => x;
    const t = performance.now();
    for (let i = 0; i < LOCAL_CALLS; i++) await fn(i);
    const plainCallsPerS = (LOCAL_CALLS / (performance.now() - t)) * 1000;

    const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)])) as Record<string, number>;
    console.log(`\nInvoke benchmark: caller and server replica in separate processes, ${RUNS} run(s), medians${smoke ? ' (SMOKE)' : ''}`);
    report('baseline: add + waitUntilFinished, p50', m['baseline_p50']!, 'ms', undefined);
    report('baseline: add + waitUntilFinished, 100 in flight', m['baseline_rps']!, 'calls/s', undefined);
    // The raw rate swings more between runs than the sync figures do (the adder and the worker share
    // two cores with Redis, and how much backlog builds up varies), so each run's figures are shown too.
    const perRun = (key: string): string => rows[key]!.map((v) => Math.round(v)).join(', ');
    report('raw BullMQ job rate, no replies', m['raw']!, 'jobs/s', undefined, `(runs ${perRun('raw')})`);
    report('sync invoke, one in flight, p50', m['p50']!, 'ms', { op: '<', value: round(0.8 * m['baseline_p50']!, 3) }, `(${round(m['p50']! / m['baseline_p50']!)}x baseline; p99 ${round(m['p99']!)} ms)`);
    const vsFloorRuns = rows['p50']!.map((p, n) => p / rows['floor_p50']![n]!);
    const vsFloor = median(vsFloorRuns);
    report(
      '  hop floor: plain Worker replying by PUBLISH',
      m['floor_p50']!,
      'ms',
      undefined,
      `(the same caller; Laneway's p50 ${round(vsFloor)}x it, median of runs ${vsFloorRuns.map((r) => round(r, 3)).join(', ')}; the baseline ${round(m['baseline_p50']! / m['floor_p50']!)}x it)`,
    );
    report('sync invoke, 100 in flight', m['rps']!, 'calls/s', { op: '>', value: Math.round(Math.max(1.5 * m['baseline_rps']!, 0.7 * m['raw']!)) }, `(${round(m['rps']! / m['baseline_rps']!)}x baseline, ${round(m['rps']! / m['raw']!)}x raw; runs ${perRun('rps')})`);
    // Issue 23 §2: sync invoke against raw BullMQ, the median of the per-run ratios (each run's two figures a few seconds apart).
    const vsRawRuns = rows['rps']!.map((r, n) => r / rows['raw']![n]!);
    const vsRaw = median(vsRawRuns);
    report('sync invoke / raw BullMQ, median of runs', vsRaw, 'x', { op: '>', value: 0.8 }, `(runs ${vsRawRuns.map((r) => round(r, 3)).join(', ')})`);
    // Where the round trips go: Redis's own count of commands (scripts' inner ones included) and of the
    // time it spent running them, per sync call (with its reply) against per raw job (no reply).
    report(
      'Redis per sync call, 100 in flight: commands',
      m['redis_calls']!,
      '',
      undefined,
      `(${round(m['redis_us']!)} µs of command time; a raw job: ${round(m['raw_redis_calls']!)} commands, ${round(m['raw_redis_us']!)} µs; ${round(m['redis_us']! / m['raw_redis_us']!)}x)`,
    );
    // And each process's CPU per call: the caller (this process), the server, Redis; per raw job the
    // adder (this process), the plain Worker and Redis.
    const us = (key: string): string => (Number.isFinite(m[key]!) ? `${Math.round(m[key]!)} µs` : 'n/a');
    // All three processes' CPU per sync call against per raw job, per run: how much of the rate ratio's
    // gap is work rather than waits (it swings between runs too: 1.24-1.59x in one run of 5).
    const cpuSum = (keys: string[], n: number): number => keys.reduce((sum, key) => sum + rows[key]![n]!, 0);
    const cpuVsRawRuns = rows['rps']!.map((_, n) => cpuSum(['cpu_caller', 'cpu_server', 'cpu_redis'], n) / cpuSum(['raw_cpu_adder', 'raw_cpu_worker', 'raw_cpu_redis'], n));
    const cpuVsRaw = median(cpuVsRawRuns);
    console.log(
      `${'CPU per sync call, 100 in flight'.padEnd(44)} caller ${us('cpu_caller')}, server ${us('cpu_server')}, Redis ${us('cpu_redis')}` +
        `  (a raw job: adder ${us('raw_cpu_adder')}, worker ${us('raw_cpu_worker')}, Redis ${us('raw_cpu_redis')})`,
    );
    report('  all three: sync call / raw job, median of runs', cpuVsRaw, 'x', undefined, `(runs ${cpuVsRawRuns.map((r) => round(r, 3)).join(', ')})`);
    report('sync invoke, 100 in flight, addBulk batching', m['rps_batched']!, 'calls/s', undefined, `(${round(m['rps_batched']! / m['baseline_rps']!)}x baseline, ${round(m['rps_batched']! / m['raw']!)}x raw)`);
    report('same, server concurrency 60 (below the load)', m['rps_c60']!, 'calls/s', undefined, `(${round(m['rps_c60']! / m['baseline_rps']!)}x baseline, ${round(m['rps_c60']! / m['raw']!)}x raw, ${round(m['rps_c60']! / m['rps']!)}x concurrency 100)`);
    report('same, one fetcher: 100 in flight', m['rps_1f']!, 'calls/s', undefined, `(${round(m['rps_1f']! / m['baseline_rps']!)}x baseline, ${round(m['rps_1f']! / m['raw']!)}x raw; p50 ${round(m['p50_1f']!, 3)} ms)`);
    report('ctx.invoke of a local network-lane service', m['local']!, 'calls/s', { op: '>', value: 50_000 }, `(a plain async call here: ${Math.round(plainCallsPerS)}/s)`);
    console.log(
      JSON.stringify({
        bench: 'invoke',
        runs: RUNS,
        smoke,
        p50_ms: round(m['p50']!, 3),
        p99_ms: round(m['p99']!, 3),
        rps_100: Math.round(m['rps']!),
        rps_100_batched: Math.round(m['rps_batched']!),
        rps_100_concurrency_60: Math.round(m['rps_c60']!),
        rps_100_one_fetcher: Math.round(m['rps_1f']!),
        p50_ms_one_fetcher: round(m['p50_1f']!, 3),
        baseline_p50_ms: round(m['baseline_p50']!, 3),
        p50_floor_ms: round(m['floor_p50']!, 3),
        p50_vs_floor: round(vsFloor, 3),
        baseline_rps_100: Math.round(m['baseline_rps']!),
        raw_jobs_per_s: Math.round(m['raw']!),
        vs_raw: round(vsRaw, 3),
        redis_commands_per_call: round(m['redis_calls']!, 1),
        redis_us_per_call: round(m['redis_us']!, 1),
        raw_redis_commands_per_job: round(m['raw_redis_calls']!, 1),
        raw_redis_us_per_job: round(m['raw_redis_us']!, 1),
        cpu_us_per_call: { caller: round(m['cpu_caller']!, 1), server: round(m['cpu_server']!, 1), redis: round(m['cpu_redis']!, 1) },
        cpu_vs_raw: round(cpuVsRaw, 3),
        raw_cpu_us_per_job: { adder: round(m['raw_cpu_adder']!, 1), worker: round(m['raw_cpu_worker']!, 1), redis: round(m['raw_cpu_redis']!, 1) },
        local_invoke_per_s: Math.round(m['local']!),
        plain_call_per_s: Math.round(plainCallsPerS),
      }),
    );
  } finally {
    await lean?.stop();
    await stats.quit();
    await bench.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
