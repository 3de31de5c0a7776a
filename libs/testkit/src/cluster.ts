import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Api } from './api';
import { cleanRedisPrefix, uniqueName } from './fixtures';
import { freePort, startControlPlane, startServer, type AppProcess, type ControlPlaneHandle } from './processes';

/** A control plane (its own data directory and queue prefix) and server replicas of one fresh cluster. */
export interface TestCluster {
  cp: ControlPlaneHandle;
  api: Api;
  cluster: string;
  prefix: string;
  dataDir: string;
  joinToken: string;
  servers: AppProcess[];
  /** Each server's HTTP port (with `http`), in server order. */
  httpPorts: number[];
  /** Stops every process, then removes the cluster's Redis keys and the data directory. */
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  /** Server names (s1, s2, ... when a number is given). */
  servers: number | string[];
  /** Give every server an HTTP listener (channels, /healthz) on a free port. */
  http?: boolean;
  /** Added to the control plane's environment. */
  env?: Record<string, string>;
  /** Added to every server's environment. */
  serverEnv?: Record<string, string>;
  /** The prefix of names (cluster, queue prefix, data directory). */
  name?: string;
}

/** Starts a control plane and the servers of a new cluster, each a real process. */
export async function startCluster(options: TestClusterOptions): Promise<TestCluster> {
  const name = options.name ?? 'lwtest';
  const prefix = uniqueName(name);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `laneway-${name}-`));
  const servers: AppProcess[] = [];
  const httpPorts: number[] = [];
  let cp: ControlPlaneHandle | undefined;
  let api: Api | undefined;
  const stop = async (): Promise<void> => {
    api?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LANEWAY_GRPC_ADDR: `127.0.0.1:${await freePort()}`, ...options.env });
    api = new Api(cp.address, cp.adminToken);
    const cluster = uniqueName(`${name}-c`);
    await api.createCluster(cluster);
    const joinToken = await api.joinToken(cluster);
    const names = typeof options.servers === 'number' ? Array.from({ length: options.servers }, (_, n) => `s${n + 1}`) : options.servers;
    for (const server of names) {
      const port = options.http ? await freePort() : undefined;
      if (port) httpPorts.push(port);
      servers.push(
        await startServer({
          LANEWAY_CONTROL_PLANE: cp.address,
          LANEWAY_CLUSTER: cluster,
          LANEWAY_SERVER_NAME: server,
          LANEWAY_QUEUE_PREFIX: prefix,
          LANEWAY_JOIN_TOKEN: joinToken,
          ...(port ? { LANEWAY_HTTP_ADDR: `127.0.0.1:${port}` } : {}),
          ...options.serverEnv,
        }),
      );
    }
    return { cp, api, cluster, prefix, dataDir, joinToken, servers, httpPorts, stop };
  } catch (err) {
    // A replica that did not start leaves no process behind (startServer kills it); the rest go here.
    await stop();
    throw err;
  }
}
