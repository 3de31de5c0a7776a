import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MirrorRole, type MirrorStatus } from '@laneway/proto';
import {
  ADMIN_TOKEN,
  Api,
  cleanRedisPrefix,
  createTestDatabase,
  freePort,
  REDIS_URL,
  startControlPlane,
  startServer,
  TcpRelay,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';
import type { Cleanup } from './cleanup';
import { sleep } from './load';
import { OwnRedis } from './own-redis';
import { outputTail } from './report';
import { drillServices, WHO_SERVICE } from './services';

/** Schedules are compared with Redis this often on every control plane of the two-site drills. */
export const SCHEDULE_CHECK_MS = 1_000;

/**
 * One site of a mirrored cluster: a control plane on a fixed address (a restart keeps it) with its own
 * store, its own Redis and two servers with HTTP listeners on fixed ports. Site A: the embedded store
 * in a temp dir and the default Redis (REDIS_URL); site B: a PostgreSQL database of its own and a
 * redis-server of its own. The other site reaches this control plane through `relay` (the mirror link,
 * which the drill can cut); servers talk to their control plane directly.
 */
export class Site {
  readonly servers = new Map<string, AppProcess>();
  readonly httpPorts = new Map<string, number>();
  cp: ControlPlaneHandle | undefined;
  api!: Api;
  readonly cluster: string;
  readonly prefix: string;
  readonly dir: string;
  cpAddress = '';
  /** HOST:PORT of the relay in front of this control plane: the address the other site uses. */
  linkAddress = '';
  relay!: TcpRelay;
  joinToken = '';
  private readonly secretKey = randomBytes(32).toString('base64');

  private constructor(
    readonly name: 'A' | 'B',
    private readonly redisUrl: string,
    private readonly databaseUrl: string | undefined,
    private readonly cleanup: Cleanup,
  ) {
    this.cluster = uniqueName(`drill-${name.toLowerCase()}`);
    this.prefix = uniqueName(`lwsite${name.toLowerCase()}`);
    this.dir = mkdtempSync(path.join(os.tmpdir(), `laneway-drill-site${name.toLowerCase()}-`));
    cleanup.add(`remove site ${name}'s temp dir`, () => rmSync(this.dir, { recursive: true, force: true }));
  }

  /** Starts site `name` ('A': embedded store, default Redis; 'B': PostgreSQL and a Redis of its own). */
  static async start(name: 'A' | 'B', cleanup: Cleanup, servers = 2): Promise<Site> {
    let redisUrl = REDIS_URL;
    let databaseUrl: string | undefined;
    if (name === 'B') {
      redisUrl = (await OwnRedis.start(cleanup)).url;
      const db = await createTestDatabase();
      cleanup.add(`drop site ${name}'s database`, () => db.drop());
      databaseUrl = db.url;
    }
    const site = new Site(name, redisUrl, databaseUrl, cleanup);
    if (name === 'A') cleanup.add(`remove site ${name}'s Redis keys`, () => cleanRedisPrefix(site.prefix));
    // Registered before anything starts: a start that fails halfway leaves nothing running.
    cleanup.add(`close site ${name}'s relay`, () => site.relay?.close());
    cleanup.add(`close site ${name}'s API client`, () => site.api?.close());
    cleanup.add(`stop site ${name}'s control plane`, () => site.cp?.process.stop(5_000));
    cleanup.onFailure(`site ${name}'s last output`, () => outputTail([site.cp?.process, ...site.servers.values()]));
    cleanup.add(`stop site ${name}'s servers`, () => Promise.all([...site.servers.values()].map((s) => s.stop(5_000))).then(() => undefined));
    site.cpAddress = `127.0.0.1:${await freePort()}`;
    site.relay = new TcpRelay({ host: '127.0.0.1', port: Number(site.cpAddress.split(':')[1]) });
    site.linkAddress = `127.0.0.1:${await site.relay.listen()}`;
    await site.startControlPlane();
    site.api = new Api(site.cpAddress, ADMIN_TOKEN);
    await site.api.createCluster(site.cluster);
    site.joinToken = await site.api.joinToken(site.cluster);
    for (let n = 1; n <= servers; n++) site.httpPorts.set(`${name.toLowerCase()}${n}`, await freePort());
    await Promise.all([...site.httpPorts.keys()].map((server) => site.startServer(server)));
    return site;
  }

  get names(): string[] {
    return [...this.httpPorts.keys()];
  }

  url(server: string, pathname: string): string {
    return `http://127.0.0.1:${this.httpPorts.get(server)!}${pathname}`;
  }

  /** Starts (or starts again, on its address, store and Redis) this site's control plane. */
  async startControlPlane(): Promise<void> {
    this.cp = await startControlPlane({
      LANEWAY_GRPC_ADDR: this.cpAddress,
      LANEWAY_DATA_DIR: path.join(this.dir, 'cp'),
      LANEWAY_QUEUE_PREFIX: this.prefix,
      LANEWAY_SECRET_KEY: this.secretKey,
      LANEWAY_SCHEDULE_CHECK_MS: String(SCHEDULE_CHECK_MS),
      REDIS_URL: this.redisUrl,
      ...(this.databaseUrl ? { DATABASE_URL: this.databaseUrl } : {}),
    });
  }

  /**
   * Starts (or starts again) server `name`. `newPort`: on a fresh free port, for a server started again
   * after a while (its old port, free meanwhile, may have become some outgoing connection's local port).
   */
  async startServer(name: string, newPort = false): Promise<void> {
    if (newPort) this.httpPorts.set(name, await freePort());
    this.servers.set(
      name,
      await startServer({
        LANEWAY_CONTROL_PLANE: this.cpAddress,
        LANEWAY_CLUSTER: this.cluster,
        LANEWAY_SERVER_NAME: name,
        LANEWAY_QUEUE_PREFIX: this.prefix,
        LANEWAY_JOIN_TOKEN: this.joinToken,
        LANEWAY_HTTP_ADDR: `127.0.0.1:${this.httpPorts.get(name)!}`,
        REDIS_URL: this.redisUrl,
      }),
    );
  }

  /** kill -9 of this site's control plane and every server (its Redis and store stay). */
  async killAll(): Promise<void> {
    await Promise.all([this.cp?.process.kill9(), ...[...this.servers.values()].map((s) => s.kill9())]);
  }
}

/**
 * Sites A and B; A deployed with the drill's `who` service, its `who` channel and (when asked) an
 * interval schedule; B following A through A's relay, caught up, its servers answering the channel.
 */
export async function startMirroredSites(cleanup: Cleanup, schedule?: { name: string; intervalMs: number }): Promise<{ a: Site; b: Site }> {
  const [a, b] = await Promise.all([Site.start('A', cleanup), Site.start('B', cleanup)]);
  await a.api.deploy(a.cluster, drillServices(REDIS_URL, `${a.prefix}:runs`).filter((s) => s.path === 'drill/who.js'));
  await a.api.putChannel(a.cluster, { name: 'who', method: 'GET', path: '/who', service: WHO_SERVICE, timeoutMs: 10_000 });
  if (schedule) await a.api.putSchedule(a.cluster, { name: schedule.name, service: WHO_SERVICE, intervalMs: schedule.intervalMs });
  const token = await a.api.mirrorToken(a.cluster);
  await b.api.follow({ cluster: b.cluster, sourceAddress: a.linkAddress, sourceCluster: a.cluster, token });
  await until(`B caught up with A`, () => b.api.mirrorStatus(b.cluster), (s) => s.connected && s.appliedSourceRevision === s.sourceRevision && s.lagMs === 0);
  for (const site of [a, b]) {
    for (const server of site.names) {
      await until(`${server} answers /who`, () => fetch(site.url(server, '/who'), { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0), (s) => s === 200);
    }
  }
  return { a, b };
}

/** Polls `fn` every 50 ms until `accept`; throws naming `what` (and the last value) after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      if (accept(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms; last: ${last === undefined ? String((lastError as Error)?.message) : JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    }
    await sleep(50);
  }
}

export const roleName = (s: MirrorStatus | undefined): string =>
  s ? (MirrorRole[s.role] ?? String(s.role)).replace('MIRROR_ROLE_', '').toLowerCase() : 'none';

/** A gRPC error's code and details. */
export function grpcError(err: unknown): { code: number; details: string } {
  const e = err as { code?: number; details?: string; message?: string };
  return { code: e.code ?? -1, details: e.details ?? e.message ?? String(err) };
}
