import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {
  ADMIN_TOKEN,
  Api,
  cleanRedisPrefix,
  freePort,
  REDIS_URL,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';
import type { Cleanup } from './cleanup';
import { Haproxy } from './haproxy';
import { outputTail } from './report';
import { drillServices, JOB_SERVICE, WHO_SERVICE } from './services';

export interface DrillClusterOptions {
  servers: number;
  /** More than one needs `databaseUrl` (control planes share one PostgreSQL database). */
  controlPlanes?: number;
  databaseUrl?: string;
  /** The Redis of the lanes (queues); REDIS_URL by default. Job records always go to REDIS_URL. */
  redisUrl?: string;
  serverEnv?: Record<string, string>;
  /** At most this many `drill.job` runs at once per server (0: no bound). */
  jobConcurrency?: number;
}

/**
 * Control plane(s), N servers each with an HTTP listener on a fixed port (a restart keeps it, so the
 * HAProxy configuration stays right), the drill services and channels deployed, and HAProxy in front.
 */
export class DrillCluster {
  readonly servers = new Map<string, AppProcess>();
  readonly httpPorts = new Map<string, number>();
  readonly cps: (ControlPlaneHandle | undefined)[] = [];
  readonly apis: Api[] = [];
  haproxy!: Haproxy;
  joinToken = '';
  readonly cluster = uniqueName('drill-c');
  readonly prefix = uniqueName('lwdrill');
  /** The Redis hash (on REDIS_URL) where the job service counts each invocation id's runs. */
  readonly runsKey: string;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-drill-'));
  readonly cpAddresses: string[] = [];
  private readonly secretKey = randomBytes(32).toString('base64');
  private readonly redisUrl: string;

  private constructor(
    private readonly options: DrillClusterOptions,
    private readonly cleanup: Cleanup,
  ) {
    this.redisUrl = options.redisUrl ?? REDIS_URL;
    this.runsKey = `${this.prefix}:runs`;
    cleanup.add('remove the temp dir', () => rmSync(this.dir, { recursive: true, force: true }));
    cleanup.add('remove the job records', () => cleanRedisPrefix(this.prefix));
  }

  static async start(options: DrillClusterOptions, cleanup: Cleanup): Promise<DrillCluster> {
    const c = new DrillCluster(options, cleanup);
    const count = options.controlPlanes ?? 1;
    for (let n = 0; n < count; n++) c.cpAddresses.push(`127.0.0.1:${await freePort()}`);
    // Registered first: a start that fails halfway leaves nothing running.
    cleanup.add('close the API clients', () => c.apis.forEach((a) => a.close()));
    cleanup.add('stop the control planes', () => Promise.all(c.cps.map((cp) => cp?.process.stop(5_000))).then(() => undefined));
    cleanup.add('stop the servers', () => Promise.all([...c.servers.values()].map((s) => s.stop(5_000))).then(() => undefined));
    cleanup.onFailure("the cluster's last output", () => outputTail([...c.cps.map((cp) => cp?.process), ...c.servers.values()]));
    for (let n = 0; n < count; n++) await c.startControlPlane(n);
    const api = c.api;
    await api.createCluster(c.cluster);
    c.joinToken = await api.joinToken(c.cluster);
    for (let n = 1; n <= options.servers; n++) c.httpPorts.set(`s${n}`, await freePort());
    await Promise.all([...c.httpPorts.keys()].map((name) => c.startServer(name)));
    await api.deploy(c.cluster, drillServices(REDIS_URL, c.runsKey, options.jobConcurrency));
    await api.putChannel(c.cluster, { name: 'who', method: 'GET', path: '/who', service: WHO_SERVICE, timeoutMs: 10_000 });
    await api.putChannel(c.cluster, { name: 'job', method: 'POST', path: '/job', service: JOB_SERVICE, async: true });
    c.haproxy = await Haproxy.start(c.dir, c.cliEnv(), cleanup);
    return c;
  }

  /** The API of the first control plane. */
  get api(): Api {
    return this.apis[0]!;
  }

  get names(): string[] {
    return [...this.httpPorts.keys()];
  }

  cliEnv(cp = 0): Record<string, string> {
    return { LANEWAY_CONTROL_PLANE: this.cpAddresses[cp]!, LANEWAY_TOKEN: ADMIN_TOKEN, LANEWAY_CLUSTER: this.cluster };
  }

  /** Starts (or starts again, on its own port and data dir) control plane `n`. */
  async startControlPlane(n: number): Promise<void> {
    const dataDir = path.join(this.dir, `cp${n + 1}`);
    this.cps[n] = await startControlPlane({
      LANEWAY_GRPC_ADDR: this.cpAddresses[n]!,
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_QUEUE_PREFIX: this.prefix,
      LANEWAY_SECRET_KEY: this.secretKey,
      REDIS_URL: this.redisUrl,
      ...(this.options.databaseUrl ? { DATABASE_URL: this.options.databaseUrl } : {}),
    });
    this.apis[n] ??= new Api(this.cpAddresses[n]!, ADMIN_TOKEN);
  }

  /** Starts (or starts again) server `name`; resolves once it serves. */
  async startServer(name: string): Promise<void> {
    this.servers.set(
      name,
      await startServer({
        LANEWAY_CONTROL_PLANE: this.cpAddresses.join(','),
        LANEWAY_CLUSTER: this.cluster,
        LANEWAY_SERVER_NAME: name,
        LANEWAY_QUEUE_PREFIX: this.prefix,
        LANEWAY_JOIN_TOKEN: this.joinToken,
        LANEWAY_HTTP_ADDR: `127.0.0.1:${this.httpPorts.get(name)!}`,
        REDIS_URL: this.redisUrl,
        ...this.options.serverEnv,
      }),
    );
  }

  server(name: string): AppProcess {
    return this.servers.get(name)!;
  }
}
