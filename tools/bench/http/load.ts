// The HTTP benchmark's one load generator, in a process of its own (forked by ./main.ts with an IPC
// channel), so that it never shares an event loop with a server under test. Takes one LoadRequest
// at a time, runs Debian's wrk (closed loop, as fast as the server answers), autocannon (with a
// rate) or, with `paced`, an open loop of its own, and answers a LoadResult.
// Exits when its parent goes away.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';

export interface LoadRequest {
  url: string;
  connections: number;
  durationS: number;
  /** Requests/s over all connections (autocannon `overallRate`); absent: as fast as the server answers. */
  overallRate?: number;
  /**
   * With `overallRate`: instead of autocannon, send the requests evenly spaced (autocannon's rate limit
   * lets each connection send its share back to back at the start of every second, so its latencies
   * at a fixed rate are mostly those bursts queueing), over at most `connections` keep-alive sockets,
   * each latency measured from the moment its request was due (an open loop: a stall counts in full).
   */
  paced?: boolean;
  /** Sent with every request (the Laneway channel's API key). */
  headers?: Record<string, string>;
  /** Without a rate: 'wrk' (the default; one thread, C, so that the generator is not the bottleneck) or 'autocannon'. */
  tool?: 'wrk' | 'autocannon';
}

export interface LoadResult {
  /** 2xx answers per second of the run. */
  rps: number;
  /** Percentiles of the 2xx latencies, from autocannon's per-response times (sub-millisecond, not rounded). */
  p50: number;
  p99: number;
  /** autocannon's own p99 (whole milliseconds; with a rate, "corrected" for coordinated omission). */
  autocannonP99: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
}

interface AutocannonResult {
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  latency: { p99: number };
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): void;
}
type Autocannon = (
  options: { url: string; connections: number; duration: number; overallRate?: number; timeout?: number; headers?: Record<string, string> },
  done: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

// autocannon ships no types; this is the part of its API used here.
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function run(request: LoadRequest): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: request.url, connections: request.connections, duration: request.durationS, overallRate: request.overallRate, timeout: 10, headers: request.headers },
      (err, result) => {
        if (err) return reject(err);
        const sorted = latencies.subarray(0, count).sort();
        resolve({
          rps: result['2xx'] / result.duration,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          autocannonP99: result.latency.p99,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          durationS: result.duration,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTimeMs;
    });
  });
}

const WRK_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** wrk's "1.23ms" as milliseconds. */
function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`wrk printed a latency this parser does not know: ${text}`);
  return Number(m[1]) * WRK_UNITS[m[2]!]!;
}

/** One wrk run (1 thread, `connections` keep-alive connections, --latency), its text output parsed. */
function wrk(request: LoadRequest): Promise<LoadResult> {
  // wrk takes whole seconds.
  const args = ['-t1', `-c${request.connections}`, `-d${Math.max(1, Math.round(request.durationS))}s`, '--latency', '--timeout', '10s'];
  for (const [name, value] of Object.entries(request.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(request.url);
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (request.durationS + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(new Error(`wrk failed (is Debian's wrk installed? apt-get install wrk): ${err.message}`));
      const grab = (re: RegExp): string | undefined => re.exec(stdout)?.[1];
      const total = Number(grab(/(\d+) requests in ([\d.]+)(?:s|ms|m)/));
      const duration = grab(/\d+ requests in ([\d.]+\w+)/);
      const non2xx = Number(grab(/Non-2xx or 3xx responses: (\d+)/) ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      const p50 = grab(/^\s+50%\s+(\S+)/m);
      const p99 = grab(/^\s+99%\s+(\S+)/m);
      if (!Number.isFinite(total) || !duration || !p50 || !p99) return reject(new Error(`could not read wrk's output:\n${stdout}`));
      const durationS = wrkMs(duration) / 1000;
      const ok = total - non2xx;
      resolve({
        rps: ok / durationS,
        p50: wrkMs(p50),
        p99: wrkMs(p99),
        autocannonP99: Number.NaN,
        ok,
        non2xx,
        errors: socket ? Number(socket[1]) + Number(socket[2]) + Number(socket[3]) : 0,
        timeouts: socket ? Number(socket[4]) : 0,
        durationS,
      });
    });
  });
}

/** `rate` requests/s for `durationS`, due every 1/rate s whether or not earlier ones were answered. */
async function paced(request: LoadRequest & { overallRate: number }): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: request.connections });
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  const pending: Promise<void>[] = [];
  const send = (due: number): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get(request.url, { agent, timeout: 10_000, headers: request.headers }, (res) => {
        res.resume();
        res.once('end', () => {
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - due);
          else non2xx++;
          resolve();
        });
      });
      let timedOut = false;
      req.once('timeout', () => {
        timedOut = true;
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.once('error', () => {
        if (!timedOut) errors++;
        resolve();
      });
    });
  const interval = 1000 / request.overallRate;
  const total = Math.round(request.durationS * request.overallRate);
  const started = performance.now();
  for (let i = 0; i < total; ) {
    const now = performance.now();
    // Every request due by now goes out now; then sleep to the next one (timers tick at about 1 ms).
    for (; i < total && started + i * interval <= now; i++) pending.push(send(started + i * interval));
    if (i < total) await new Promise((r) => setTimeout(r, Math.max(0, started + i * interval - performance.now())));
  }
  await Promise.all(pending);
  const durationS = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: latencies.length / durationS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    autocannonP99: Number.NaN,
    ok: latencies.length,
    non2xx,
    errors,
    timeouts,
    durationS,
  };
}

process.on('message', (request: LoadRequest) => {
  const work =
    request.paced && request.overallRate
      ? paced({ ...request, overallRate: request.overallRate })
      : request.overallRate || request.tool === 'autocannon'
        ? run(request)
        : wrk(request);
  work.then(
    (result) => process.send?.({ result }),
    (err: unknown) => process.send?.({ error: String(err) }),
  );
});
process.once('disconnect', () => process.exit(0));
process.send?.({ ready: true });
