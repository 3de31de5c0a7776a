import { startCluster, type TestCluster } from '@laneway/testkit';

/** A control plane and one or more server replicas of a fresh cluster, as separate processes. */
export type BenchCluster = TestCluster;

export function startBenchCluster(options: { servers: number; serverEnv?: Record<string, string> }): Promise<BenchCluster> {
  return startCluster({ servers: options.servers, serverEnv: options.serverEnv, name: 'lwbench' });
}

/** Runs `call` with `concurrency` callers in a closed loop for `durationMs`; returns calls/s and latencies. */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  call: () => Promise<unknown>,
): Promise<{ perSecond: number; latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { perSecond: (latencies.length / (performance.now() - started)) * 1000, latencies, errors };
}
