import { Api, cleanRedisPrefix, freePort, startControlPlane, startServer, uniqueName, type AppProcess, type ControlPlaneHandle } from '@laneway/testkit';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A control plane and one or more server replicas of a fresh cluster, as separate processes. */
export interface BenchCluster {
  cp: ControlPlaneHandle;
  api: Api;
  cluster: string;
  prefix: string;
  servers: AppProcess[];
  stop(): Promise<void>;
}

export async function startBenchCluster(options: { servers: number; serverEnv?: Record<string, string> }): Promise<BenchCluster> {
  const prefix = uniqueName('lwbench');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-bench-'));
  const cp = await startControlPlane({
    LANEWAY_DATA_DIR: dataDir,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
  });
  const api = new Api(cp.address, cp.adminToken);
  const cluster = uniqueName('bench');
  const servers: AppProcess[] = [];
  const stop = async (): Promise<void> => {
    api.close();
    await Promise.all(servers.map((s) => s.stop()));
    await cp.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await api.createCluster(cluster);
    const joinToken = await api.joinToken(cluster);
    for (let n = 0; n < options.servers; n++) {
      servers.push(
        await startServer({
          LANEWAY_CONTROL_PLANE: cp.address,
          LANEWAY_CLUSTER: cluster,
          LANEWAY_SERVER_NAME: `s${n + 1}`,
          LANEWAY_QUEUE_PREFIX: prefix,
          LANEWAY_JOIN_TOKEN: joinToken,
          ...options.serverEnv,
        }),
      );
    }
  } catch (err) {
    // A replica that did not start leaves no process behind (startServer kills it); the rest go here.
    await stop();
    throw err;
  }
  return { cp, api, cluster, prefix, servers, stop };
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
