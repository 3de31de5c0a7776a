// HTTP benchmark: the same `GET /customers/:id` JSON handler behind bare node:http (the ceiling),
// fastify (reference), Moleculer + moleculer-web (the peer an evaluator would pick) and a Laneway
// REST channel (a control plane and one server replica, the handler a network-lane service), each in
// its own process, loaded one after the other by one wrk (Debian's, 1 thread) run from a load-generator
// process of its own. Then the
// channel's p99 at a fixed rate with the server's CPU lane saturated against the same rate with it idle,
// and with the cores kept busy by processes outside Laneway (the machine's floor for that ratio). The
// same channel on a second replica with LANEWAY_METRICS=off is loaded beside the others, so that the
// server CPU per request with metrics on (the default) against off gives the cost of the metrics; and
// on a third replica with tracing at 100% sampling, exporting over OTLP/HTTP to a receiver this
// process runs, against a fourth started the same way with tracing off, for the cost of the traces.
//   npm run bench -- http [--smoke] [--tracing] [--rate=R] [--runs=N]
// tracing_overhead comes from replicas with tracing at 100% and off, two of each, and one at 0%
// sampling (the floor: spans made but none recorded or exported), loaded side by side, at the same
// time, each at the same evenly paced rate (SIDE_RATE req/s, or R with --rate=R) by a load generator
// of its own: measured one after the other, the machine's speed drifted between two replicas' windows
// as much as tracing costs, and loaded as fast as each answers, a slower replica also pays more per
// request for the same work (fewer requests per wake-up and per system call), which counted twice.
// The side-by-side replicas are new processes in each run (see sideProcesses), each window with only its own.
// In the full run the traced replica is also loaded by wrk with the others, as fast as it answers:
// printed beside it as tracing_overhead_saturated.
// metrics_overhead comes the same way from a window of its own: the two untraced replicas (metrics on,
// the default) beside two with LANEWAY_METRICS=off; the wrk figure (one process each, loaded in turn)
// is printed beside it as metrics_overhead_saturated.
// --tracing runs only the side-by-side part, both windows (and no peers, wrk runs or fixed-rate runs).
import { LaneClient } from '@laneway/lanes';
import { eventually, freePort, REDIS_URL, ROOT, startServer, type AppProcess } from '@laneway/testkit';
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { startBenchCluster, type BenchCluster } from '../lib/replica';
import { withBurners } from '../lib/burners';
import { cpuSecondsOf } from '../lib/proc-cpu';
import { median, report, round } from '../lib/stats';
import type { LoadRequest, LoadResult } from './load';

const smoke = process.argv.includes('--smoke');
const tracingOnly = process.argv.includes('--tracing');
const runsArg = process.argv.find((a) => a.startsWith('--runs='));
const RUNS = runsArg ? Number(runsArg.slice('--runs='.length)) : smoke ? 1 : 5;
const rateArg = process.argv.find((a) => a.startsWith('--rate='));
/** Requests/s each replica of the side-by-side tracing runs gets, evenly paced: well under what one answers alone. */
const SIDE_RATE = rateArg ? Number(rateArg.slice('--rate='.length)) : 1500;
if (!Number.isInteger(SIDE_RATE) || SIDE_RATE < 1) throw new Error(`--rate=${rateArg?.slice(7)}: give a whole number of requests per second`);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs=${runsArg?.slice(7)}: give a whole number of runs, at least 1`);
const CONNECTIONS = 50;
const MEASURE_S = smoke ? 1 : 5;
const WARMUP_S = smoke ? 0.5 : 3;
const FIXED_RATE = 2000;
const FIXED_S = smoke ? 1.5 : 6;
// How often the traced replicas' batch span processor exports (OTEL_BSP_SCHEDULE_DELAY; 5 s is its
// default): the span counts wait one delay and a half second for the last batch. Smoke mode exports
// sooner, so that CI does not sit out the default twice.
const BSP_DELAY_MS = smoke ? 500 : 5000;
const CPU_THREADS = os.availableParallelism();
const CPU_IN_FLIGHT = 2 * CPU_THREADS;
const CPU_BURN_MS = 200;
const ROUTE = '/customers/42';
const EXPECTED = JSON.stringify({ id: '42', name: 'Ada', tier: 'gold' });
// The Laneway channel checks an API key on every request (SHA-256 of the presented key, compared in
// constant time); the peers check nothing, so Laneway carries that extra work in the comparison.
const SECURITY: 'none' | 'api_key' = 'api_key';
const SECURITY_NOTE = 'no security';
const API_KEY = 'bench-key-0123456789abcdef0123456789';
const KEY_HEADERS = { 'x-api-key': API_KEY };

const SERVICES = `import { defineService } from '@laneway/sdk';

export const customer = defineService({
  name: 'bench.customer',
  handle: (input: { id: string }) => ({ id: input.id, name: 'Ada', tier: 'gold' }),
});

/** ${CPU_BURN_MS} ms of CPU in the CPU lane (worker threads at low priority). */
export const burn = defineService({
  name: 'bench.burn',
  lane: 'cpu',
  handle(input: { ms: number }) {
    const until = Date.now() + input.ms;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    return x;
  },
});
`;

type Measured = LoadResult & { cpuJobsPerS?: number; cpuUsPerRequest?: number };
type Target = 'bare' | 'fastify' | 'moleculer' | 'laneway' | 'metricsOff' | 'traced' | 'untraced' | 'unsampled' | 'traced2' | 'untraced2' | 'quiet' | 'quiet2' | 'metricsOn' | 'metricsOn2';
/** Loaded one after the other, each as fast as it answers (wrk). */
const TARGETS: readonly Target[] = tracingOnly ? [] : ['bare', 'fastify', 'moleculer', 'laneway', 'metricsOff', 'traced', 'untraced'];
/**
 * Loaded side by side, at SIDE_RATE each: tracing_overhead and its floor. Two replicas of each of the
 * compared kinds, started alternately: on this machine two replicas started alike used up to 1.15x
 * each other's CPU per request, whatever they ran, for as long as they lived (a process's own heap
 * sizing and compiled code), which one replica per kind would count as tracing's cost or saving.
 */
const SIDE: readonly Target[] = ['untraced', 'traced', 'unsampled', 'untraced2', 'traced2'];
/**
 * Loaded side by side in a window of their own, the same way: metrics_overhead, two replicas with
 * metrics on (the default) against two with LANEWAY_METRICS=off, tracing off in all four, all four
 * started together for the window (a process a few seconds older already cost less per request).
 */
const METRICS_SIDE: readonly Target[] = ['metricsOn', 'quiet', 'metricsOn2', 'quiet2'];
/** Every side-by-side replica. */
const SIDE_ALL: readonly Target[] = [...SIDE, ...METRICS_SIDE];
/** Connections each side-by-side load generator keeps (a paced loop opens only as many as it needs). */
const SIDE_CONNECTIONS = 20;
const LABEL: Record<Target, string> = {
  bare: 'bare node:http (the ceiling)',
  fastify: 'fastify 5.12 alone (reference)',
  moleculer: 'moleculer 0.14 + moleculer-web 0.10',
  laneway: 'Laneway channel',
  metricsOff: 'Laneway channel, LANEWAY_METRICS=off',
  traced: 'Laneway channel, traces at 100% (OTLP)',
  untraced: 'Laneway channel, tracing off, started as the traced one',
  unsampled: 'Laneway channel, tracing on, 0% sampled',
  traced2: 'Laneway channel, traces at 100% (OTLP), second replica',
  untraced2: 'Laneway channel, tracing off, second replica',
  quiet: 'Laneway channel, LANEWAY_METRICS=off',
  quiet2: 'Laneway channel, LANEWAY_METRICS=off, second replica',
  metricsOn: 'Laneway channel, metrics on',
  metricsOn2: 'Laneway channel, metrics on, second replica',
};
/** The most server CPU per request that metrics on may cost against off: 5% more. */
const METRICS_OVERHEAD_TARGET = 1.05;
/** Issue 23 section 1: a channel's server CPU per request at most 1.25x bare node:http's, its requests/s at least 0.8x. */
const CPU_VS_BARE_TARGET = 1.25;
const RPS_VS_BARE_TARGET = 0.8;
/** The most server CPU per request that tracing at 100% sampling may cost against tracing off: 15% more. */
const TRACING_OVERHEAD_TARGET = 1.15;

/**
 * A local OTLP/HTTP receiver for the traced replica: takes POST /v1/traces (the exporter's JSON, gzipped or not),
 * answers 200 and counts the spans, so that the report can say whether the replica exported them all.
 */
const SPAN_ID = Buffer.from('{"traceId":');

async function startOtlpReceiver(): Promise<{ port: number; spans: () => number; close: () => Promise<void>; server: Server }> {
  let spans = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        // Counted by the opening of each span ({"traceId": the bench's spans have no links, which would match too)
        // rather than parsed: this process shares the 2 cores with the replica under test and wrk, and
        // parsing every batch took CPU the replica then lacked (the traces e2e decodes them in full).
        if (body[0] !== 0x7b) throw new Error('not JSON');
        for (let at = body.indexOf(SPAN_ID); at >= 0; at = body.indexOf(SPAN_ID, at + SPAN_ID.length)) spans++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    spans: () => spans,
    server,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A forked TypeScript child (run through tsx) that says { ready: true } over IPC once it is up. */
async function forkReady(script: string, args: string[], name: string): Promise<ChildProcess> {
  const child = fork(path.join(__dirname, script), args, { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s`)), 20_000);
      child.on('message', (m: { ready?: boolean }) => {
        if (m.ready) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready`));
      });
    });
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}; output:\n${output.join('').slice(-3000)}`);
  }
  return child;
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the child is gone. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** The load generator child: one run (wrk, autocannon or its paced loop) at a time over IPC. */
function loadRunner(child: ChildProcess): (request: LoadRequest) => Promise<LoadResult> {
  return (request) =>
    new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error('the load generator exited'));
      child.once('exit', onExit);
      child.once('message', (m: { result?: LoadResult; error?: string }) => {
        child.off('exit', onExit);
        if (m.result) resolve(m.result);
        else reject(new Error(`load generator: ${m.error ?? 'no result'}`));
      });
      child.send(request);
    });
}

/** Server CPU µs per request of a run, from the process's CPU seconds before and after it (unknown without both or without answers). */
function cpuPerRequest(before: number | undefined, after: number | undefined, run: LoadResult): number | undefined {
  return before !== undefined && after !== undefined && run.ok ? ((after - before) * 1e6) / (run.ok + run.non2xx) : undefined;
}

function headersOf(target: Target): Record<string, string> {
  return target === 'bare' || target === 'fastify' || target === 'moleculer' ? {} : KEY_HEADERS;
}

async function checkAnswer(target: Target, url: string): Promise<void> {
  const response = await fetch(url, { headers: headersOf(target) });
  const text = await response.text();
  if (response.status !== 200 || JSON.stringify(JSON.parse(text)) !== EXPECTED) {
    throw new Error(`${target} answered ${response.status} ${text.slice(0, 300)} instead of ${EXPECTED}`);
  }
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  let bench: BenchCluster | undefined;
  let metricsOff: AppProcess | undefined;
  // The side-by-side replicas of both windows, new processes for each window of each run (startGroup):
  // two processes started alike keep levels of their own (up to 1.2x apart on this machine) for their
  // whole lives, which the same processes in every run would carry into every run's ratio; new ones
  // each run make that level part of the spread between runs instead.
  const sideProcesses: Partial<Record<Target, AppProcess>> = {};
  const sideEnv: Partial<Record<Target, Record<string, string>>> = {};
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>> | undefined;
  let client: LaneClient | undefined;
  try {
    const urls = {} as Record<Target, string>;
    const pids = {} as Record<Target, number | undefined>;
    for (const kind of ['bare', 'fastify', 'moleculer'] as const) {
      if (!TARGETS.includes(kind)) continue;
      const port = await freePort();
      const peer = await forkReady('peer.ts', [kind, String(port)], kind);
      children.push(peer);
      urls[kind] = `http://127.0.0.1:${port}${ROUTE}`;
      pids[kind] = peer.pid;
    }

    const httpPort = await freePort();
    bench = await startBenchCluster({
      servers: 1,
      serverEnv: { LANEWAY_HTTP_ADDR: `127.0.0.1:${httpPort}`, LANEWAY_CPU_THREADS: String(CPU_THREADS), LANEWAY_CPU_JOB_TIMEOUT_MS: '60000' },
    });
    const { api, cluster, prefix } = bench;
    /** The bench's services and API-key channel in `name`'s cluster (no server needed: each catches up when it joins). */
    const deployChannel = async (name: string): Promise<void> => {
      await api.deploy(name, [{ path: 'bench/http.ts', content: SERVICES }]);
      await api.createSecurity(name, { name: 'bench-key', apiKey: { header: 'x-api-key', key: API_KEY, keySet: false } });
      await api.putChannel(name, { name: 'customer', method: 'GET', path: '/customers/:id', service: 'bench.customer', security: 'bench-key' });
    };
    /** A new cluster `name` with the channel, and the environment its servers join it with. */
    const channelCluster = async (name: string): Promise<Record<string, string>> => {
      await api.createCluster(name);
      await deployChannel(name);
      return {
        LANEWAY_CONTROL_PLANE: bench!.cp.address,
        LANEWAY_CLUSTER: name,
        LANEWAY_QUEUE_PREFIX: prefix,
        LANEWAY_JOIN_TOKEN: await api.joinToken(name),
        LANEWAY_CPU_THREADS: String(CPU_THREADS),
      };
    };
    await deployChannel(cluster);
    urls.laneway = `http://127.0.0.1:${httpPort}${ROUTE}`;
    pids.laneway = bench.servers[0]!.child.pid;
    // The same channel on a replica with metrics off, in a cluster of its own: it takes none of the
    // first cluster's lane jobs (the CPU-lane figures below stay the first replica's alone), and, not
    // drained, it runs as the first replica does (a drained replica measured up to 15% more CPU per
    // request than a serving one, which would hide the metrics' cost).
    if (TARGETS.includes('metricsOff')) {
      const offPort = await freePort();
      metricsOff = await startServer({
        ...(await channelCluster(`${cluster}-off`)),
        LANEWAY_SERVER_NAME: 'metrics-off',
        LANEWAY_HTTP_ADDR: `127.0.0.1:${offPort}`,
        LANEWAY_METRICS: 'off',
      });
      urls.metricsOff = `http://127.0.0.1:${offPort}${ROUTE}`;
      pids.metricsOff = metricsOff.child.pid;
    }
    // The same channel on a replica with tracing on, every request sampled, exporting to a receiver in
    // this process; its own cluster too, metrics on as on the first replica (the difference is tracing alone).
    receiver = await startOtlpReceiver();
    /**
     * The same channel on a replica of its own cluster with tracing on, exporting to the receiver,
     * sampling with `sampler`; without a sampler, tracing off (the traced replica's baseline).
     */
    const otlpPort = receiver.port;
    /**
     * The cluster of side-by-side replica `name`, with the channel, and the environment its servers
     * start with (startGroup starts them): tracing on with `sampler`, off without one; `extra` added.
     */
    const sideCluster = async (name: Target, sampler: string | undefined, extra: Record<string, string> = {}): Promise<void> => {
      sideEnv[name] = {
        ...(await channelCluster(`${cluster}-${name.toLowerCase()}`)),
        ...(sampler ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`, OTEL_TRACES_SAMPLER: sampler } : {}),
        // Room for every span while an export is in flight (one batch is sent at a time; what
        // overflows the queue, 2048 by default, is dropped): a dropped span would cost less than a sent one.
        OTEL_BSP_MAX_QUEUE_SIZE: '65536',
        OTEL_BSP_SCHEDULE_DELAY: String(BSP_DELAY_MS),
        ...extra,
      };
    };
    // Tracing off on replicas started as the traced ones: their baseline. Measured on this machine,
    // replicas started this way used 1.2-1.3x the server CPU per request of the first cluster's own
    // replica under wrk, tracing off in both: against that one, tracing would carry it.
    for (const [target, sampler] of [['traced', 'always_on'], ['untraced', undefined], ['unsampled', 'always_off'], ['untraced2', undefined], ['traced2', 'always_on']] as const) {
      await sideCluster(target, sampler);
    }
    // The metrics window's replicas, tracing off: metrics on (the default) and off.
    for (const [target, metrics] of [['metricsOn', 'on'], ['quiet', 'off'], ['metricsOn2', 'on'], ['quiet2', 'off']] as const) {
      await sideCluster(target, undefined, metrics === 'off' ? { LANEWAY_METRICS: 'off' } : {});
    }
    if (metricsOff && (await fetch(`${urls.metricsOff.replace(ROUTE, '')}/metrics`)).status !== 404) throw new Error('the LANEWAY_METRICS=off replica serves /metrics');
    if ((await fetch(`http://127.0.0.1:${httpPort}/metrics`)).status !== 200) throw new Error('the metrics-on replica does not serve /metrics');
    client = new LaneClient({ redis: REDIS_URL, prefix });
    const lanes = client;
    await lanes.invoke({ cluster, lane: 'cpu', service: 'bench.burn', input: { ms: 1 }, timeoutMs: 20_000 });

    const loader = await forkReady('load.ts', [], 'load generator');
    children.push(loader);
    const load = loadRunner(loader);
    // The pair window's second wrk (bare node:http and the channel loaded at the same time), and its
    // Laneway replicas: a cluster of their own with the same channel, a new server process each run
    // (as the side-by-side windows' replicas are), beside a new bare node:http.
    let pairLoad = load;
    if (!tracingOnly) {
      const pairLoader = await forkReady('load.ts', [], 'load generator (pair window)');
      children.push(pairLoader);
      pairLoad = loadRunner(pairLoader);
    }
    const pairEnv = tracingOnly ? {} : await channelCluster(`${cluster}-pair`);
    /**
     * The pair window: a new bare node:http and a new Laneway replica (processes started for this run,
     * as the side-by-side windows' are: a long-lived process keeps a level of its own, and the first
     * replica has also run the CPU lane and the fixed-rate loads by then), warmed up together, then
     * loaded at the same time, each by a wrk of its own as fast as it answers, each one's server CPU
     * per request over the same seconds.
     */
    const pairWindow = async (run: number): Promise<{ bare: Measured; laneway: Measured }> => {
      const [barePort, lanePort] = [await freePort(), await freePort()];
      const bareChild = await forkReady('peer.ts', ['bare', String(barePort)], 'bare node:http (pair window)');
      let server: AppProcess | undefined;
      try {
        server = await startServer({ ...pairEnv, LANEWAY_SERVER_NAME: `pair-${run}`, LANEWAY_HTTP_ADDR: `127.0.0.1:${lanePort}` });
        const pair = [
          { target: 'bare' as const, url: `http://127.0.0.1:${barePort}${ROUTE}`, pid: bareChild.pid, runner: load },
          { target: 'laneway' as const, url: `http://127.0.0.1:${lanePort}${ROUTE}`, pid: server.child.pid, runner: pairLoad },
        ];
        // Serving once it has caught up on its cluster's channel.
        await eventually(
          () => checkAnswer('laneway', pair[1]!.url).then(() => true, () => false),
          (ok) => ok,
          15_000,
        );
        await checkAnswer('bare', pair[0]!.url);
        const both = (durationS: number): Promise<Measured[]> =>
          Promise.all(pair.map((p) => p.runner({ url: p.url, connections: CONNECTIONS, durationS, headers: headersOf(p.target) })));
        await both(WARMUP_S);
        const before = pair.map((p) => cpuSecondsOf(p.pid));
        const measured = await both(MEASURE_S);
        pair.forEach((p, i) => {
          const after = cpuSecondsOf(p.pid);
          const r = measured[i]!;
          r.cpuUsPerRequest = cpuPerRequest(before[i], after, r);
        });
        return { bare: measured[0]!, laneway: measured[1]! };
      } finally {
        await server?.stop();
        await stopChild(bareChild);
      }
    };
    // The side-by-side runs: a load generator per replica, so that each keeps its pace whatever the others do.
    const sideLoads = {} as Record<Target, (request: LoadRequest) => Promise<LoadResult>>;
    for (const target of SIDE_ALL) {
      const own = await forkReady('load.ts', [], `load generator for ${target}`);
      children.push(own);
      sideLoads[target] = loadRunner(own);
    }
    const sideRequest = (target: Target, durationS: number): LoadRequest => ({
      url: urls[target],
      connections: SIDE_CONNECTIONS,
      durationS,
      overallRate: SIDE_RATE,
      paced: true,
      headers: headersOf(target),
    });
    /** One side-by-side run: every replica of `group` loaded at once, each one's server CPU per request over the same window. */
    const sideBySide = async (durationS: number, group: readonly Target[] = SIDE): Promise<Record<Target, Measured>> => {
      const before = group.map((t) => cpuSecondsOf(pids[t]));
      const measured = (await Promise.all(group.map((t) => sideLoads[t](sideRequest(t, durationS))))) as Measured[];
      group.forEach((t, i) => {
        const after = cpuSecondsOf(pids[t]);
        const r = measured[i]!;
        r.cpuUsPerRequest = cpuPerRequest(before[i], after, r);
      });
      return Object.fromEntries(group.map((t, i) => [t, measured[i]!])) as Record<Target, Measured>;
    };

    /** Traced requests of the warm-ups of new replicas: their spans reach the receiver among the measured ones'. */
    let unmeasuredTraced = 0;
    /**
     * New processes for the side-by-side replicas of `group` (each joins its cluster as a new server, on
     * a new port), started at once and answering, then `warm` loaded for the warm-up (discarded).
     */
    const startGroup = async (group: readonly Target[], run: number, warm: readonly Target[]): Promise<Record<Target, Measured>> => {
      await Promise.all(
        group.map(async (t) => {
          const port = await freePort();
          const server = await startServer({ ...sideEnv[t]!, LANEWAY_SERVER_NAME: `${t}-${run}`, LANEWAY_HTTP_ADDR: `127.0.0.1:${port}` });
          sideProcesses[t] = server;
          urls[t] = `http://127.0.0.1:${port}${ROUTE}`;
          pids[t] = server.child.pid;
          // Serving once it has caught up on its cluster's channel.
          await eventually(
            () => checkAnswer(t, urls[t]).then(() => true, () => false),
            (ok) => ok,
            15_000,
          );
        }),
      );
      return sideBySide(WARMUP_S, warm);
    };
    /** Stops the side-by-side replicas of `group` (a stopped one flushes its spans first). */
    const stopGroup = async (group: readonly Target[]): Promise<void> => {
      await Promise.all(group.map((t) => sideProcesses[t]?.stop()));
    };

    // The tracing window's replicas, answering and warmed up. Each window runs with only its own
    // replicas: the metrics window's start for it (after the tracing window's stop), so that neither
    // is crowded by idle servers of the other (two more idle servers moved tracing_overhead by about 0.05).
    await startGroup(SIDE, 0, SIDE);
    for (const target of TARGETS) await checkAnswer(target, urls[target]);
    // The traced replica exports (its batch processor sends within BSP_DELAY_MS).
    for (let waited = 0; receiver.spans() === 0; waited += 100) {
      if (waited > 10_000) throw new Error('the traced replica exported no span to the OTLP receiver');
      await new Promise((r) => setTimeout(r, 100));
    }
    let tracedRequests = 0;
    const side = { traced: [], untraced: [], unsampled: [], traced2: [], untraced2: [] } as unknown as Record<Target, Measured[]>;
    /** The metrics window's measurements. */
    const metricsSide = { metricsOn: [], metricsOn2: [], quiet: [], quiet2: [] } as unknown as Record<Target, Measured[]>;
    // Warm-up: JIT, connections, pools; discarded.
    for (const target of TARGETS) await load({ url: urls[target], connections: CONNECTIONS, durationS: WARMUP_S, headers: headersOf(target) });
    if (!tracingOnly) await load({ url: urls.laneway, connections: CONNECTIONS, durationS: WARMUP_S, overallRate: FIXED_RATE, paced: true, headers: KEY_HEADERS });

    /**
     * The channel at FIXED_RATE req/s, evenly paced and then through autocannon's rate limit; with
     * `cpu`, CPU_IN_FLIGHT CPU-lane jobs kept in flight all the while.
     */
    const fixedRate = async (cpu: boolean): Promise<{ paced: Measured; burst: Measured }> => {
      let stop = false;
      let counting = false;
      let cpuDone = 0;
      const loops = cpu
        ? Array.from({ length: CPU_IN_FLIGHT }, async () => {
            while (!stop) {
              try {
                await lanes.invoke({ cluster, lane: 'cpu', service: 'bench.burn', input: { ms: CPU_BURN_MS }, timeoutMs: 120_000 });
                if (counting) cpuDone++;
              } catch {
                // not counted
              }
            }
          })
        : [];
      try {
        // Let every CPU thread pick up a job before measuring.
        if (cpu) await new Promise((r) => setTimeout(r, 2 * CPU_BURN_MS));
        const measured = async (request: LoadRequest): Promise<Measured> => {
          cpuDone = 0;
          counting = true;
          const result = await load(request);
          counting = false;
          return { ...result, cpuJobsPerS: cpuDone / result.durationS };
        };
        const fixed = { url: urls.laneway, connections: CONNECTIONS, durationS: FIXED_S, overallRate: FIXED_RATE, headers: KEY_HEADERS };
        return { paced: await measured({ ...fixed, paced: true }), burst: await measured(fixed) };
      } finally {
        stop = true;
        await Promise.all(loops);
      }
    };

    /**
     * The machine's floor: the same paced load while CPU_THREADS processes outside Laneway burn CPU
     * under SCHED_IDLE (what the CPU lane's threads run under), so no Laneway work is added, only busy
     * cores. On this 2-vCPU VM that alone raised the p99 1.2-2x.
     */
    const outsideLoaded = (): Promise<Measured> =>
      withBurners(CPU_THREADS, () => load({ url: urls.laneway, connections: CONNECTIONS, durationS: FIXED_S, overallRate: FIXED_RATE, headers: KEY_HEADERS, paced: true }));

    const results: Record<Target | 'idle' | 'loaded' | 'idleBurst' | 'loadedBurst' | 'outside' | 'pairBare' | 'pairLaneway', Measured[]> = {
      bare: [],
      fastify: [],
      moleculer: [],
      laneway: [],
      metricsOff: [],
      traced: [],
      unsampled: [],
      untraced: [],
      traced2: [],
      untraced2: [],
      quiet: [],
      quiet2: [],
      metricsOn: [],
      metricsOn2: [],
      idle: [],
      loaded: [],
      idleBurst: [],
      loadedBurst: [],
      outside: [],
      pairBare: [],
      pairLaneway: [],
    };
    // The warm-up's spans leave within the batch processor's delay: counted before the runs.
    await new Promise((r) => setTimeout(r, BSP_DELAY_MS + 500));
    const spansBefore = receiver.spans();
    for (let run = 0; run < RUNS; run++) {
      if (run > 0) {
        const warm = await startGroup(SIDE, run, SIDE);
        unmeasuredTraced += warm.traced.ok + warm.traced.non2xx + warm.traced2.ok + warm.traced2.non2xx;
      }
      // Interleaved, the starting peer rotated per run, so that drift of the machine spreads over all of them.
      for (let i = 0; i < TARGETS.length; i++) {
        const target = TARGETS[(i + run) % TARGETS.length]!;
        const cpuBefore = cpuSecondsOf(pids[target]);
        const result: Measured = await load({ url: urls[target], connections: CONNECTIONS, durationS: MEASURE_S, headers: headersOf(target) });
        const cpuAfter = cpuSecondsOf(pids[target]);
        result.cpuUsPerRequest = cpuPerRequest(cpuBefore, cpuAfter, result);
        if (target === 'traced') tracedRequests += result.ok + result.non2xx;
        results[target].push(result);
      }
      // The traced replica's spans of its wrk run (tens of thousands, queued) leave before the window,
      // whose CPU they would otherwise add to the traced replica's.
      if (!tracingOnly) {
        for (let waited = 0; receiver.spans() - spansBefore - unmeasuredTraced < tracedRequests && waited < 15_000; waited += 100) {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const together = await sideBySide(MEASURE_S);
      for (const target of SIDE) side[target].push(together[target]);
      tracedRequests += together.traced.ok + together.traced.non2xx + together.traced2.ok + together.traced2.non2xx;
      await stopGroup(SIDE);
      await startGroup(METRICS_SIDE, run, METRICS_SIDE);
      const metricsWindow = await sideBySide(MEASURE_S, METRICS_SIDE);
      for (const target of METRICS_SIDE) metricsSide[target].push(metricsWindow[target]);
      // New processes for every side-by-side replica in the next run.
      await stopGroup(SIDE_ALL);
      if (tracingOnly) continue;
      // With no side-by-side replica running (five idle ones beside the windows in turn).
      const pair = await pairWindow(run);
      results.pairBare.push(pair.bare);
      results.pairLaneway.push(pair.laneway);
      for (const cpu of run % 2 ? [true, false] : [false, true]) {
        const { paced, burst } = await fixedRate(cpu);
        results[cpu ? 'loaded' : 'idle'].push(paced);
        results[cpu ? 'loadedBurst' : 'idleBurst'].push(burst);
      }
      results.outside.push(await outsideLoaded());
    }

    const med = (key: keyof typeof results, field: keyof LoadResult | 'cpuJobsPerS' | 'cpuUsPerRequest'): number => median(results[key].map((r) => r[field] ?? 0));
    /** Each run's requests/s, and the failed requests of all runs, of a series of measurements. */
    const runsIn = (series: readonly Measured[]): string => series.map((r) => Math.round(r.rps)).join(', ');
    const failuresIn = (series: readonly Measured[]): string => {
      const bad = series.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
      return bad ? `; ${bad} non-2xx/errors/timeouts` : '';
    };
    const runsOf = (key: keyof typeof results): string => runsIn(results[key]);
    const failures = (key: keyof typeof results): string => failuresIn(results[key]);
    const rps = Object.fromEntries(TARGETS.map((t) => [t, med(t, 'rps')])) as Record<Target, number>;
    const p99 = Object.fromEntries(TARGETS.map((t) => [t, med(t, 'p99')])) as Record<Target, number>;
    const cpuUs = Object.fromEntries(TARGETS.map((t) => [t, med(t, 'cpuUsPerRequest')])) as Record<Target, number>;
    const cpuNote = (t: Target): string => (cpuUs[t] ? `; server CPU ${round(cpuUs[t])} µs/request` : '');
    const idleP99 = med('idle', 'p99');
    const loadedP99 = med('loaded', 'p99');

    // Ratios within each run (its measurements follow each other, a few seconds apart), then their
    // median: the machine's speed drifts by up to 2x over minutes, and a ratio of medians taken from
    // different runs would carry that drift.
    const perRun = (a: keyof typeof results, b: keyof typeof results, field: keyof LoadResult): number =>
      median(results[a].map((r, n) => (r[field] as number) / ((results[b][n]![field] as number) || Number.NaN)));
    /** Server CPU per request of `a` against `b`, per run. */
    const cpuRuns = (a: Target, b: Target): number[] => results[a].map((r, n) => (r.cpuUsPerRequest ?? Number.NaN) / (results[b][n]!.cpuUsPerRequest ?? Number.NaN));
    // Side by side: server CPU per request with tracing at 100% against tracing off, per run (the same window).
    const sideCpu = (t: Target): number => median(side[t].map((r) => r.cpuUsPerRequest ?? Number.NaN));
    const cpuOf = (t: Target, n: number): number => side[t][n]!.cpuUsPerRequest ?? Number.NaN;
    // Per run: the two traced replicas' CPU per request against the two untraced ones' (means).
    const tracingRuns = side.traced.map((_, n) => (cpuOf('traced', n) + cpuOf('traced2', n)) / (cpuOf('untraced', n) + cpuOf('untraced2', n)));
    const tracingOverhead = median(tracingRuns);
    const floorRuns = side.unsampled.map((_, n) => (2 * cpuOf('unsampled', n)) / (cpuOf('untraced', n) + cpuOf('untraced2', n)));
    // Two replicas alike against each other: how far apart processes that run the same stand.
    const alikeRuns = side.traced.map((_, n) => Math.max(cpuOf('traced2', n) / cpuOf('traced', n), cpuOf('untraced2', n) / cpuOf('untraced', n), cpuOf('traced', n) / cpuOf('traced2', n), cpuOf('untraced', n) / cpuOf('untraced2', n)));
    // Loaded one after the other by wrk, as fast as each answers (the full run only).
    const saturatedRuns = tracingOnly ? [] : cpuRuns('traced', 'untraced');
    const tracingSaturated = tracingOnly ? Number.NaN : median(saturatedRuns);
    // Spans the receiver got for the measured runs (the batch processor's last one may still be on its way).
    await new Promise((r) => setTimeout(r, BSP_DELAY_MS + 500));
    const exportedShare = tracedRequests ? (receiver.spans() - spansBefore - unmeasuredTraced) / tracedRequests : Number.NaN;
    const sideNote = (t: Target, series: Record<Target, Measured[]> = side): string =>
      `(p99 ${round(median(series[t].map((r) => r.p99)))} ms; server CPU ${round(median(series[t].map((r) => r.cpuUsPerRequest ?? Number.NaN)))} µs/request; runs ${runsIn(series[t])}${failuresIn(series[t])})`;
    // The metrics window: per run, the untraced pair (metrics on) against the metrics-off pair (means).
    const metricsCpuOf = (t: Target, n: number): number => metricsSide[t][n]!.cpuUsPerRequest ?? Number.NaN;
    const metricsRuns = metricsSide.metricsOn.map((_, n) => (metricsCpuOf('metricsOn', n) + metricsCpuOf('metricsOn2', n)) / (metricsCpuOf('quiet', n) + metricsCpuOf('quiet2', n)));
    const metricsOverhead = median(metricsRuns);
    const metricsAlikeRuns = metricsSide.metricsOn.map((_, n) =>
      Math.max(metricsCpuOf('metricsOn2', n) / metricsCpuOf('metricsOn', n), metricsCpuOf('metricsOn', n) / metricsCpuOf('metricsOn2', n), metricsCpuOf('quiet2', n) / metricsCpuOf('quiet', n), metricsCpuOf('quiet', n) / metricsCpuOf('quiet2', n)),
    );
    const reportMetrics = (): void => {
      console.log(`Metrics, side by side: two replicas with metrics on (the default) and two with LANEWAY_METRICS=off, tracing off, started together and loaded at the same time in a window of their own, ${SIDE_RATE} req/s each`);
      for (const t of ['metricsOn', 'metricsOn2', 'quiet', 'quiet2'] as const) report(`  ${LABEL[t]}`, median(metricsSide[t].map((r) => r.rps)), 'req/s', undefined, sideNote(t, metricsSide));
      report(
        'metrics_overhead: server CPU/request on / off',
        metricsOverhead,
        'x',
        { op: '<', value: METRICS_OVERHEAD_TARGET },
        `(side by side, the metrics-on pair's mean against the metrics-off pair's; median of runs ${metricsRuns.map((r) => round(r, 3)).join(', ')})`,
      );
      report('  two replicas alike, the farther apart pair', median(metricsAlikeRuns), 'x', undefined, `(per run ${metricsAlikeRuns.map((r) => round(r, 3)).join(', ')})`);
    };
    const reportTracing = (): void => {
      console.log(
        `Tracing, side by side: the replicas below loaded at the same time, each at ${SIDE_RATE} req/s evenly paced by a load generator of its own (${SIDE_CONNECTIONS} connections), ` +
          `${MEASURE_S} s per run; the traced ones export over OTLP/HTTP to a receiver in this process`,
      );
      for (const t of ['untraced', 'untraced2', 'traced', 'traced2'] as const) report(`  ${LABEL[t]}`, median(side[t].map((r) => r.rps)), 'req/s', undefined, sideNote(t));
      report(
        'tracing_overhead: server CPU/request 100% / off',
        tracingOverhead,
        'x',
        { op: '<', value: TRACING_OVERHEAD_TARGET },
        `(side by side, the two traced replicas' mean against the two untraced ones'; median of runs ${tracingRuns.map((r) => round(r, 3)).join(', ')}; ` +
          `the receiver got ${round(exportedShare, 3)} spans per measured request)`,
      );
      report('  two replicas alike, the farther apart pair', median(alikeRuns), 'x', undefined, `(per run ${alikeRuns.map((r) => round(r, 3)).join(', ')}: the spread between processes that run the same)`);
      report(`  ${LABEL.unsampled}`, median(side.unsampled.map((r) => r.rps)), 'req/s', undefined, sideNote('unsampled'));
      report('  floor: server CPU/request 0% sampled / off', median(floorRuns), 'x', undefined, `(median of runs ${floorRuns.map((r) => round(r, 3)).join(', ')})`);
      if (!tracingOnly) {
        report(
          '  saturated: traced / off, each loaded by wrk in turn',
          tracingSaturated,
          'x',
          undefined,
          `(median of runs ${saturatedRuns.map((r) => round(r, 3)).join(', ')}; ${round(cpuUs.traced)} against ${round(cpuUs.untraced)} µs/request at ${Math.round(rps.traced)} against ${Math.round(rps.untraced)} req/s)`,
        );
      }
    };
    if (tracingOnly) {
      console.log(
        `\nHTTP benchmark, tracing only: GET ${ROUTE} on Laneway replicas with tracing off, at 100% and at 0% sampling, ${os.availableParallelism()} cores shared by all; ` +
          `${WARMUP_S} s warm-up, ${RUNS} run(s), medians${smoke ? ' (SMOKE)' : ''}`,
      );
      reportTracing();
      reportMetrics();
      console.log(
        JSON.stringify({
          bench: 'http',
          mode: 'tracing',
          runs: RUNS,
          smoke,
          rate: SIDE_RATE,
          traced_rps: Math.round(median(side.traced.map((r) => r.rps))),
          cpu_us_per_request: Object.fromEntries(SIDE.map((t) => [t, round(sideCpu(t), 3)])),
          tracing_overhead: round(tracingOverhead, 3),
          tracing_overhead_runs: tracingRuns.map((r) => round(r, 3)),
          unsampled_overhead: round(median(floorRuns), 3),
          alike_spread: round(median(alikeRuns), 3),
          traced_spans_per_request: round(exportedShare, 3),
          metrics_overhead: round(metricsOverhead, 3),
          metrics_overhead_runs: metricsRuns.map((r) => round(r, 3)),
        }),
      );
      return;
    }
    // Issue 23 section 1 from the pair window: both servers loaded in the same seconds, so that the
    // machine's speed, which drifted up to 2x between windows a few seconds apart (bare node:http
    // alone read 39-89 µs/request in one minute), reaches both alike.
    const pairCpu = (key: 'pairBare' | 'pairLaneway'): number => median(results[key].map((r) => r.cpuUsPerRequest ?? Number.NaN));
    const cpuVsBareRuns = results.pairLaneway.map((r, n) => (r.cpuUsPerRequest ?? Number.NaN) / (results.pairBare[n]!.cpuUsPerRequest ?? Number.NaN));
    const cpuVsBare = median(cpuVsBareRuns);
    const vsBare = perRun('pairLaneway', 'pairBare', 'rps');
    // The same from the windows loaded in turn, as measured before the pair window.
    const cpuVsBareInTurnRuns = cpuRuns('laneway', 'bare');
    const cpuVsBareInTurn = median(cpuVsBareInTurnRuns);
    const vsBareInTurn = perRun('laneway', 'bare', 'rps');
    const vsMoleculer = perRun('laneway', 'moleculer', 'rps');
    const bareVsMoleculer = perRun('bare', 'moleculer', 'rps');
    const fastifyVsMoleculer = perRun('fastify', 'moleculer', 'rps');
    /** The per-run ratios that perRun takes the median of, for the report. */
    const ratiosOf = (a: keyof typeof results, b: keyof typeof results, field: 'rps' | 'p99' = 'rps'): string =>
      results[a].map((r, n) => round(r[field] / results[b][n]![field])).join(', ');
    const loadedVsIdle = perRun('loaded', 'idle', 'p99');
    // Server CPU per request with metrics on against off under wrk, per run (the two measured a few
    // seconds apart, one process each: what metrics_overhead measured before the side-by-side window).
    const overheadRuns = results.laneway.map((r, n) => (r.cpuUsPerRequest ?? Number.NaN) / (results.metricsOff[n]!.cpuUsPerRequest ?? Number.NaN));
    const metricsSaturated = median(overheadRuns);
    const idleBurstP99 = med('idleBurst', 'p99');
    const loadedBurstP99 = med('loadedBurst', 'p99');
    const cpuMax = round((CPU_THREADS * 1000) / CPU_BURN_MS);

    console.log(
      `\nHTTP benchmark: GET ${ROUTE} (the same JSON handler), each server in its own process, loaded by wrk (1 thread), ${os.availableParallelism()} cores shared by all; ` +
        `${CONNECTIONS} connections, ${MEASURE_S} s per run after ${WARMUP_S} s warm-up, ${RUNS} run(s) interleaved, medians${smoke ? ' (SMOKE)' : ''}`,
    );
    console.log(`Laneway: a control plane and one server replica, the handler a network-lane service behind channel GET /customers/:id, ${SECURITY === 'none' ? SECURITY_NOTE : 'API-key security'}`);
    for (const target of ['bare', 'fastify', 'moleculer'] as const) {
      const vsBare = target === 'bare' ? '' : `${round(rps[target] / rps.bare)}x bare; `;
      report(LABEL[target], rps[target], 'req/s', undefined, `(${vsBare}p99 ${round(p99[target])} ms${cpuNote(target)}; runs ${runsOf(target)}${failures(target)})`);
    }
    report(LABEL.laneway, rps.laneway, 'req/s', undefined, `(p99 ${round(p99.laneway)} ms${cpuNote('laneway')}; runs ${runsOf('laneway')}${failures('laneway')})`);
    report(LABEL.metricsOff, rps.metricsOff, 'req/s', undefined, `(p99 ${round(p99.metricsOff)} ms${cpuNote('metricsOff')}; runs ${runsOf('metricsOff')}${failures('metricsOff')})`);
    report(
      '  saturated: metrics on / off, each loaded by wrk in turn',
      metricsSaturated,
      'x',
      undefined,
      `(one process each; median of runs ${overheadRuns.map((r) => round(r, 3)).join(', ')}; ${round(cpuUs.laneway)} against ${round(cpuUs.metricsOff)} µs/request from the medians)`,
    );
    reportTracing();
    reportMetrics();
    // Issue 23 section 1: the distance to bare node:http, as server CPU per request (what Laneway adds
    // to each request) and as requests/s, each the median of per-run ratios from the pair window.
    console.log(
      `Pair window: a new bare node:http and a new Laneway replica each run, warmed up ${WARMUP_S} s together, then loaded at the same time, each by a wrk of its own (1 thread, ${CONNECTIONS} connections), ${MEASURE_S} s per run`,
    );
    for (const [key, label] of [['pairBare', LABEL.bare], ['pairLaneway', LABEL.laneway]] as const) {
      report(`  ${label}`, med(key, 'rps'), 'req/s', undefined, `(p99 ${round(med(key, 'p99'))} ms; server CPU ${round(pairCpu(key))} µs/request; runs ${runsOf(key)}${failures(key)})`);
    }
    report(
      `${LABEL.laneway} / bare, server CPU per request, median of runs`,
      cpuVsBare,
      'x',
      { op: '<', value: CPU_VS_BARE_TARGET },
      `(pair window; runs ${cpuVsBareRuns.map((r) => round(r, 3)).join(', ')}; ${round(pairCpu('pairLaneway'))} against ${round(pairCpu('pairBare'))} µs/request from the medians)`,
    );
    report(`${LABEL.laneway} / bare, requests/s, median of runs`, vsBare, 'x', { op: '>', value: RPS_VS_BARE_TARGET }, `(pair window; runs ${ratiosOf('pairLaneway', 'pairBare')})`);
    report(
      '  loaded in turn: server CPU per request',
      cpuVsBareInTurn,
      'x',
      undefined,
      `(runs ${cpuVsBareInTurnRuns.map((r) => round(r, 3)).join(', ')}; ${round(cpuUs.laneway)} against ${round(cpuUs.bare)} µs/request from the medians)`,
    );
    report('  loaded in turn: requests/s', vsBareInTurn, 'x', undefined, `(runs ${ratiosOf('laneway', 'bare')}; ${round(rps.laneway / rps.bare)}x from the medians)`);
    // moleculer-web beside them, no longer a target (issue 23 withdrew the 1.5x of the REST channels
    // issue: bare node:http itself ran at only 1.2-1.7x moleculer-web on this machine kind, the ceiling
    // printed below).
    report(`  reference: ${LABEL.laneway} / moleculer-web, median of runs`, vsMoleculer, 'x', undefined, `(runs ${ratiosOf('laneway', 'moleculer')}; ${round(rps.laneway / rps.moleculer)}x from the medians)`);
    report('  ceiling: bare node:http / moleculer-web, median of runs', bareVsMoleculer, 'x', undefined, `(runs ${ratiosOf('bare', 'moleculer')})`);
    report('  reference: fastify alone / moleculer-web, median of runs', fastifyVsMoleculer, 'x', undefined, `(runs ${ratiosOf('fastify', 'moleculer')})`);
    console.log(
      `Fixed rate: the channel at ${FIXED_RATE} req/s for ${FIXED_S} s, paced evenly (latency from when each request was due) and then through autocannon's overallRate ` +
        `(each connection sends its share back to back at the start of every second); CPU lane ${CPU_THREADS} threads idle, or saturated by ${CPU_IN_FLIGHT} jobs of ${CPU_BURN_MS} ms kept in flight`,
    );
    const cpuJobs = (key: 'loaded' | 'loadedBurst'): string => `CPU lane ${round(med(key, 'cpuJobsPerS'))} of at most ${cpuMax} jobs/s`;
    report('channel p99 at fixed rate, CPU lane idle', idleP99, 'ms', undefined, `(p50 ${round(med('idle', 'p50'), 3)} ms; ${Math.round(med('idle', 'rps'))} req/s${failures('idle')})`);
    report(
      'channel p99 at fixed rate, CPU lane saturated',
      loadedP99,
      'ms',
      undefined,
      `(${round(loadedP99 / idleP99)}x idle from the medians; p50 ${round(med('loaded', 'p50'), 3)} ms; ${Math.round(med('loaded', 'rps'))} req/s; ${cpuJobs('loaded')}${failures('loaded')})`,
    );
    report('saturated / idle p99, median of runs', loadedVsIdle, 'x', { op: '<', value: 1.5 }, `(runs ${ratiosOf('loaded', 'idle', 'p99')})`);
    const outsideP99 = med('outside', 'p99');
    const outsideVsIdle = perRun('outside', 'idle', 'p99');
    report(
      'same, cores busy outside Laneway (the floor)',
      outsideP99,
      'ms',
      undefined,
      `(${CPU_THREADS} processes burning under SCHED_IDLE, no CPU-lane work; median of runs ${round(outsideVsIdle)}x idle: runs ${ratiosOf('outside', 'idle', 'p99')})`,
    );
    report('same via autocannon bursts, CPU lane idle', idleBurstP99, 'ms', undefined, `(p50 ${round(med('idleBurst', 'p50'), 3)} ms; autocannon's own p99 ${med('idleBurst', 'autocannonP99')} ms${failures('idleBurst')})`);
    report(
      'same via autocannon bursts, CPU lane saturated',
      loadedBurstP99,
      'ms',
      undefined,
      `(${round(loadedBurstP99 / idleBurstP99)}x idle; p50 ${round(med('loadedBurst', 'p50'), 3)} ms; autocannon's own p99 ${med('loadedBurst', 'autocannonP99')} ms; ${cpuJobs('loadedBurst')}${failures('loadedBurst')})`,
    );
    console.log(
      JSON.stringify({
        bench: 'http',
        runs: RUNS,
        smoke,
        security: SECURITY,
        ...(SECURITY === 'none' ? { security_note: SECURITY_NOTE } : {}),
        rps: Math.round(rps.laneway),
        bare_rps: Math.round(rps.bare),
        fastify_rps: Math.round(rps.fastify),
        moleculer_rps: Math.round(rps.moleculer),
        p99_ms: round(p99.laneway, 3),
        bare_p99_ms: round(p99.bare, 3),
        fastify_p99_ms: round(p99.fastify, 3),
        moleculer_p99_ms: round(p99.moleculer, 3),
        cpu_loaded_p99_ms: round(loadedP99, 3),
        cpu_idle_p99_ms: round(idleP99, 3),
        outside_loaded_p99_ms: round(outsideP99, 3),
        outside_loaded_vs_idle: round(outsideVsIdle, 3),
        vs_bare: round(vsBare, 3),
        cpu_vs_bare: round(cpuVsBare, 3),
        cpu_vs_bare_runs: cpuVsBareRuns.map((r) => round(r, 3)),
        pair_cpu_us_per_request: { bare: round(pairCpu('pairBare'), 3), laneway: round(pairCpu('pairLaneway'), 3) },
        vs_bare_in_turn: round(vsBareInTurn, 3),
        cpu_vs_bare_in_turn: round(cpuVsBareInTurn, 3),
        vs_moleculer: round(vsMoleculer, 3),
        bare_vs_moleculer: round(bareVsMoleculer, 3),
        cpu_us_per_request: Object.fromEntries(TARGETS.map((t) => [t, round(cpuUs[t], 3)])),
        metrics_overhead: round(metricsOverhead, 3),
        metrics_overhead_runs: metricsRuns.map((r) => round(r, 3)),
        metrics_overhead_saturated: round(metricsSaturated, 3),
        tracing_overhead: round(tracingOverhead, 3),
        tracing_overhead_runs: tracingRuns.map((r) => round(r, 3)),
        tracing_rate: SIDE_RATE,
        tracing_overhead_saturated: round(tracingSaturated, 3),
        unsampled_overhead: round(median(floorRuns), 3),
        alike_spread: round(median(alikeRuns), 3),
        traced_spans_per_request: round(exportedShare, 3),
        fastify_vs_moleculer: round(fastifyVsMoleculer, 3),
        cpu_loaded_vs_idle: round(loadedVsIdle, 3),
        cpu_loaded_jobs_per_s: round(med('loaded', 'cpuJobsPerS')),
        burst_cpu_loaded_p99_ms: round(loadedBurstP99, 3),
        burst_cpu_idle_p99_ms: round(idleBurstP99, 3),
      }),
    );
  } finally {
    await client?.close();
    await Promise.all(children.map((c) => stopChild(c)));
    await metricsOff?.stop();
    await Promise.all(Object.values(sideProcesses).map((p) => p?.stop()));
    await receiver?.close();
    await bench?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
