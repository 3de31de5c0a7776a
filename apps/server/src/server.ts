import { Redis } from 'ioredis';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import { LaneClient } from '@laneway/lanes';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/load-config';
import { CpuPool } from './cpu/cpu-pool';
import { startHealthServer } from './http/health-server';
import { Invoker } from './lanes/invoker';
import { LaneWorkers } from './lanes/lane-workers';
import { ServiceRegistry, type Update } from './registry/service-registry';
import { SyncAgent } from './sync/sync-agent';

export interface RunningServer {
  registry: ServiceRegistry;
  /** Stops taking jobs, finishes in-flight ones, closes everything. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  /** Path of the bundled CPU-lane thread entry; defaults to cpu-worker.js beside this bundle. */
  cpuWorkerPath?: string;
}

/** Starts one data-plane replica: sync agent, registry, CPU pool, lane workers, health endpoint. */
export async function startServer(config: ServerConfig, logger: Logger, options: StartServerOptions = {}): Promise<RunningServer> {
  const log = logger.child({ cluster: config.cluster, server: config.serverName });
  const registry = new ServiceRegistry();
  const redisOptions = { maxRetriesPerRequest: null };
  const connection = new Redis(config.redisUrl, redisOptions);
  const publisher = new Redis(config.redisUrl, redisOptions);
  const lanes = new LaneClient({ redis: config.redisUrl, prefix: config.queuePrefix });

  // The pool needs the invoker (for ctx.invoke from CPU-lane services) and the invoker needs the pool.
  const invokerRef: { current?: Invoker } = {};
  const pool = new CpuPool({
    size: config.cpuThreads,
    workerPath: options.cpuWorkerPath ?? path.join(__dirname, 'cpu-worker.js'),
    threadData: { cluster: config.cluster, server: config.serverName },
    logger: log,
    onInvoke: (service, input, timeoutMs) => invokerRef.current!.invokeFromService(service, input, timeoutMs),
  });
  await pool.start();
  const invoker = (invokerRef.current = new Invoker({
    cluster: config.cluster,
    server: config.serverName,
    registry,
    pool,
    lanes,
    logger: log,
    cpuJobTimeoutMs: config.cpuJobTimeoutMs,
  }));

  const apply = async (update: Update): Promise<{ service: string; message: string }[]> => {
    const prepared = registry.prepare(update);
    if (prepared.errors.length) return prepared.errors;
    const cpuErrors = await pool.apply(registry.ofLane('cpu', prepared.next));
    if (cpuErrors.length) return cpuErrors;
    registry.commit(prepared);
    return [];
  };

  const agent = new SyncAgent({
    address: config.controlPlane,
    cluster: config.cluster,
    server: config.serverName,
    host: os.hostname(),
    pid: process.pid,
    appliedRevision: () => registry.revision,
    apply,
    logger: log,
  });
  const workers = new LaneWorkers({
    cluster: config.cluster,
    prefix: config.queuePrefix,
    connection,
    publisher,
    invoker,
    networkConcurrency: config.networkConcurrency,
    cpuConcurrency: config.cpuThreads,
    logger: log,
  });
  let serving = false;
  let closing = false;
  let health: http.Server | undefined;
  if (config.httpAddress) {
    health = await startHealthServer(
      { serving: () => serving, details: () => ({ server: config.serverName, cluster: config.cluster, revision: registry.revision }) },
      config.httpAddress.host,
      config.httpAddress.port,
    );
  }

  agent.start();
  // Take jobs only once this server holds the cluster's services: a fresh replica must not answer
  // "not found" for jobs that an up-to-date replica could run.
  void agent.synced.then(async () => {
    if (closing) return;
    workers.start();
    await workers.waitUntilReady();
    serving = true;
    log.info({ revision: registry.revision, services: registry.size, cpuThreads: pool.size }, 'server serving');
  });

  return {
    registry,
    async close() {
      if (closing) return;
      closing = true;
      serving = false;
      await workers.close();
      agent.stop();
      await pool.close();
      await lanes.close();
      health?.close();
      await Promise.all([connection.quit(), publisher.quit()]).catch(() => undefined);
      log.info({}, 'server stopped');
    },
  };
}
