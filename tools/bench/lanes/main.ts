// Lanes benchmark (issue 4): network-lane latency while the CPU lane is saturated, against the idle
// figure and against a single-lane setup (the same CPU work on the event loop), all measured here;
// and the machine's floor for that ratio (issue 23 section 3): the same network load while processes
// outside Laneway keep the cores busy under SCHED_IDLE, as the CPU lane's threads run. Ratios are
// medians of per-run ratios.
//   npm run bench -- lanes [--smoke]
import { LaneClient } from '@laneway/lanes';
import { REDIS_URL } from '@laneway/testkit';
import os from 'node:os';
import { withBurners } from '../lib/burners';
import { median, percentile, report, round } from '../lib/stats';
import { startBenchCluster } from '../lib/replica';

const smoke = process.argv.includes('--smoke');
const RUNS = smoke ? 1 : 3;
const PHASE_MS = smoke ? 2000 : 8000;
const NETWORK_RATE = 200;
const CPU_IN_FLIGHT = 2 * os.availableParallelism();
const NETWORK_TIMEOUT_MS = 2000;

const SERVICES = `import { defineService } from '@laneway/sdk';

function burn(ms: number): number {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  return x;
}

/** The network-lane workload: a 1 ms I/O wait. */
export const net = defineService({
  name: 'bench.net',
  lane: 'network',
  async handle() {
    await new Promise((r) => setTimeout(r, 1));
    return 1;
  },
});

/** CPU work in the CPU lane (worker threads at low priority). */
export const burnCpu = defineService({ name: 'bench.burn', lane: 'cpu', handle: (input: { ms: number }) => burn(input.ms) });

/** The same CPU work declared network-lane: the single-lane setup, on the event loop. */
export const burnInline = defineService({ name: 'bench.burn-inline', lane: 'network', handle: (input: { ms: number }) => burn(input.ms) });
`;

interface Phase {
  networkP50: number;
  networkP99: number;
  networkTimeouts: number;
  cpuJobsPerS: number;
}

async function main(): Promise<void> {
  const bench = await startBenchCluster({
    servers: 1,
    serverEnv: { LANEWAY_CPU_JOB_TIMEOUT_MS: '60000', LANEWAY_CPU_THREADS: String(os.availableParallelism()) },
  });
  const { api, cluster, prefix } = bench;
  const client = new LaneClient({ redis: REDIS_URL, prefix });
  try {
    await api.deploy(cluster, [{ path: 'bench/lanes.ts', content: SERVICES }]);

    /**
     * Open-loop network load at NETWORK_RATE calls/s plus, optionally, CPU_IN_FLIGHT CPU jobs kept in
     * flight (in the CPU lane or on the loop), or, for the floor, cores kept busy outside Laneway.
     */
    const phase = async (cpu: 'none' | 'cpu-lane' | 'single-lane' | 'outside', network: boolean): Promise<Phase> => {
      if (cpu === 'outside') return withBurners(os.availableParallelism(), () => phase('none', network));
      const latencies: number[] = [];
      let timeouts = 0;
      let cpuDone = 0;
      const started = performance.now();
      const until = started + PHASE_MS;
      const cpuService = cpu === 'cpu-lane' ? 'bench.burn' : 'bench.burn-inline';
      const cpuLane = cpu === 'cpu-lane' ? 'cpu' : 'network';
      const cpuLoops =
        cpu === 'none'
          ? []
          : Array.from({ length: CPU_IN_FLIGHT }, async () => {
              while (performance.now() < until) {
                try {
                  await client.invoke({ cluster, lane: cpuLane, service: cpuService, input: { ms: 200 }, timeoutMs: 120_000 });
                  if (performance.now() <= until) cpuDone++;
                } catch {
                  // counted as not done
                }
              }
            });
      const calls: Promise<void>[] = [];
      if (network) {
        for (let i = 0; ; i++) {
          const at = started + (i * 1000) / NETWORK_RATE;
          if (at >= until) break;
          const wait = at - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const t = performance.now();
          calls.push(
            client.invoke({ cluster, lane: 'network', service: 'bench.net', input: null, timeoutMs: NETWORK_TIMEOUT_MS }).then(
              () => void latencies.push(performance.now() - t),
              () => {
                timeouts++;
                latencies.push(NETWORK_TIMEOUT_MS);
              },
            ),
          );
        }
      } else {
        await new Promise((r) => setTimeout(r, PHASE_MS));
      }
      await Promise.all(calls);
      const elapsed = Math.max(PHASE_MS, performance.now() - started);
      await Promise.all(cpuLoops);
      return {
        networkP50: latencies.length ? percentile(latencies, 50) : 0,
        networkP99: latencies.length ? percentile(latencies, 99) : 0,
        networkTimeouts: timeouts,
        cpuJobsPerS: (cpuDone / Math.min(elapsed, PHASE_MS)) * 1000,
      };
    };

    // Warm-up: JIT, connections, thread pool.
    await phase('none', true);
    const results: Record<string, Phase[]> = { idle: [], cpuAlone: [], loaded: [], single: [], outside: [] };
    for (let run = 0; run < RUNS; run++) {
      results['idle']!.push(await phase('none', true));
      results['outside']!.push(await phase('outside', true));
      results['cpuAlone']!.push(await phase('cpu-lane', false));
      results['loaded']!.push(await phase('cpu-lane', true));
      results['single']!.push(await phase('single-lane', true));
    }
    const med = (key: string, field: keyof Phase): number => median(results[key]!.map((p) => p[field]));
    const idleP99 = med('idle', 'networkP99');
    const loadedP99 = med('loaded', 'networkP99');
    const singleP99 = med('single', 'networkP99');
    const cpuAlone = med('cpuAlone', 'cpuJobsPerS');
    // Each run's loaded and floor p99 against that run's idle p99, then the median of those.
    const vsIdleRuns = (key: string): number[] => results[key]!.map((p, n) => p.networkP99 / results['idle']![n]!.networkP99);
    const loadedRuns = vsIdleRuns('loaded');
    const floorRuns = vsIdleRuns('outside');
    const loadedVsIdle = median(loadedRuns);
    const floorVsIdle = median(floorRuns);
    const runsText = (runs: number[]): string => runs.map((r) => round(r, 3)).join(', ');
    const cpuLoaded = med('loaded', 'cpuJobsPerS');
    console.log(
      `\nLanes benchmark: one server replica (${os.availableParallelism()} cores, CPU lane ${os.availableParallelism()} threads), network ${NETWORK_RATE} calls/s of a 1 ms service, ` +
        `CPU lane ${CPU_IN_FLIGHT} jobs of 200 ms kept in flight, ${PHASE_MS / 1000} s phases, ${RUNS} run(s), medians${smoke ? ' (SMOKE)' : ''}`,
    );
    report('network p50 / p99, idle', idleP99, 'ms', undefined, `(p50 ${round(med('idle', 'networkP50'))} ms)`);
    report('network p99, CPU lane saturated', loadedP99, 'ms', undefined, `(p50 ${round(med('loaded', 'networkP50'))} ms)`);
    report('  / idle, median of runs', loadedVsIdle, 'x', { op: '<', value: 1.5 }, `(runs ${runsText(loadedRuns)})`);
    report('  floor: cores busy outside Laneway / idle', floorVsIdle, 'x', undefined, `(${os.availableParallelism()} processes burning under SCHED_IDLE, no CPU-lane work; p99 ${round(med('outside', 'networkP99'))} ms; runs ${runsText(floorRuns)})`);
    report('network p99, single lane (CPU work on the loop)', singleP99, 'ms', undefined, `(${round(singleP99 / idleP99)}x idle; ${med('single', 'networkTimeouts')} of ${(PHASE_MS / 1000) * NETWORK_RATE} calls timed out at ${NETWORK_TIMEOUT_MS} ms)`);
    report('CPU-lane jobs/s, alone', cpuAlone, 'jobs/s', undefined);
    report('CPU-lane jobs/s, with the network load', cpuLoaded, 'jobs/s', { op: '>', value: round(0.9 * cpuAlone) }, `(${round(cpuLoaded / cpuAlone)}x alone)`);
    console.log(
      JSON.stringify({
        bench: 'lanes',
        runs: RUNS,
        smoke,
        idle_p99_ms: round(idleP99),
        loaded_p99_ms: round(loadedP99),
        single_lane_loaded_p99_ms: round(singleP99),
        cpu_jobs_per_s_alone: round(cpuAlone),
        cpu_jobs_per_s_loaded: round(cpuLoaded),
        idle_p50_ms: round(med('idle', 'networkP50')),
        loaded_p50_ms: round(med('loaded', 'networkP50')),
        loaded_vs_idle: round(loadedVsIdle, 3),
        loaded_vs_idle_runs: loadedRuns.map((r) => round(r, 3)),
        floor_p99_ms: round(med('outside', 'networkP99')),
        floor_vs_idle: round(floorVsIdle, 3),
        floor_vs_idle_runs: floorRuns.map((r) => round(r, 3)),
      }),
    );
  } finally {
    await client.close();
    await bench.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
