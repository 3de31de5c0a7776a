import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AlreadyExistsError, ApiClient } from '@laneway/api-client';
import { devJson, formatDevBanner, type DevCluster } from './dev-banner';
import { checkPortsFree, checkRedisReachable } from './dev-checks';
import type { DevEntryPoints } from './dev-entries';
import { DevPart, type PartExit } from './dev-part';
import { CliError } from './errors';

/** What `laneway dev` was asked for (ports 0: any free port). */
export interface DevSettings {
  /** Absolute: the control plane's store, admin token and key file, and the parts' logs. */
  readonly dataDir: string;
  readonly cluster: string;
  readonly grpcPort: number;
  /** The server's channel listener. */
  readonly httpPort: number;
  /** The control plane's HTTP listener: web admin, /metrics, /healthz. */
  readonly adminPort: number;
  /** LANEWAY_QUEUE_PREFIX for both parts; undefined: the environment's, else the default. */
  readonly queuePrefix: string | undefined;
  readonly serverName: string;
}

export interface DevIo {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly json: boolean;
  /** The banner (or, with --json, its object): stdout. */
  out(text: string): void;
  /** The parts' lines and laneway dev's own notes: stderr. */
  err(text: string): void;
  /** Where SIGINT, SIGTERM and SIGHUP come from (the process). */
  readonly signals: Pick<NodeJS.Process, 'on' | 'off'>;
}

const HOST = '127.0.0.1';
/** How long a part gets to start: the control plane compiles nothing at start, the server loads the cluster's services. */
const START_TIMEOUT_MS = 60_000;
/** After SIGTERM: the server finishes in-flight jobs (LANEWAY_SHUTDOWN_TIMEOUT_MS, 5 s here by default). */
const STOP_GRACE_MS = 15_000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const PARTS = { controlPlane: 'control-plane', server: 'server' } as const;
const LABEL_WIDTH = Math.max(...Object.values(PARTS).map((name) => name.length));

/** Variables of the user's environment the parts must not see: dev decides these itself. */
const WITHHELD = [
  // The embedded store in the data directory, plaintext on loopback.
  'DATABASE_URL',
  'LANEWAY_TLS',
  'LANEWAY_TLS_CERT',
  'LANEWAY_TLS_KEY',
  'LANEWAY_TLS_SANS',
  'LANEWAY_INSECURE',
  'LANEWAY_TLS_CA',
  'LANEWAY_DEBUG_ADDR',
  'LANEWAY_CONTROL_PLANE',
  'LANEWAY_TOKEN',
];

/** Why the cluster is coming down. */
type Interruption =
  | { readonly kind: 'signal'; readonly signal: string }
  | { readonly kind: 'died'; readonly part: DevPart; readonly exit: PartExit };

class Interrupted extends Error {
  constructor(readonly why: Interruption) {
    super('interrupted');
  }
}

/**
 * Runs a whole cluster until a signal or a part's death: a control plane (embedded store in
 * `dataDir`), the cluster and its join token, one server; prints where everything is. Resolves 0
 * once a signal stopped it cleanly (the server first, then the control plane); throws CliError
 * naming the part that died, or what kept it from starting.
 */
export async function runDevCluster(
  settings: DevSettings,
  entries: DevEntryPoints,
  io: DevIo,
): Promise<number> {
  await checkPortsFree(HOST, [
    { port: settings.grpcPort, flag: '--grpc-port', what: "the control plane's gRPC API" },
    { port: settings.adminPort, flag: '--admin-port', what: 'the web admin' },
    { port: settings.httpPort, flag: '--http-port', what: 'channels' },
  ]);
  // One Redis: checked here. A Redis Cluster or Sentinel (LANEWAY_REDIS_CLUSTER, _SENTINELS) is the parts' to reach.
  if (!io.env['LANEWAY_REDIS_CLUSTER']?.trim() && !io.env['LANEWAY_REDIS_SENTINELS']?.trim()) {
    await checkRedisReachable(io.env['REDIS_URL']?.trim() || 'redis://127.0.0.1:6379');
  }
  const logDir = path.join(settings.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });

  const parts: DevPart[] = [];
  let interrupt!: (why: Interruption) => void;
  const interrupted = new Promise<Interruption>((resolve) => (interrupt = resolve));
  let stopping = false;
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals += 1;
    if (signals === 1) {
      interrupt({ kind: 'signal', signal });
      return;
    }
    // A second Ctrl-C: the user will not wait for a clean stop.
    io.err(
      `laneway dev: ${signal} again: killing ${
        parts
          .filter((p) => p.running)
          .map((p) => p.options.name)
          .join(' and ') || 'nothing'
      }`,
    );
    for (const part of parts) part.signal('SIGKILL');
  };
  const handlers = STOP_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) io.signals.on(signal, handler);
  // Should this process end without stopping them (an uncaught error), the parts must not outlive it.
  const killAll = (): void => {
    for (const part of parts) part.signal('SIGKILL');
  };
  process.on('exit', killAll);
  const step = <T>(promise: Promise<T>): Promise<T> =>
    Promise.race([
      promise,
      interrupted.then((why): never => {
        throw new Interrupted(why);
      }),
    ]);
  const start = (
    name: string,
    entry: string,
    env: NodeJS.ProcessEnv,
    omitFields?: ReadonlySet<string>,
  ): DevPart => {
    const logFile = path.join(logDir, `${name}.log`);
    const part = new DevPart({
      name,
      labelWidth: LABEL_WIDTH,
      entry,
      env,
      cwd: io.cwd,
      logFile,
      show: io.err,
      ...(omitFields && { omitFields }),
    });
    parts.push(part);
    void part.exited.then((exit) => {
      if (!stopping) interrupt({ kind: 'died', part, exit });
    });
    return part;
  };
  const started = <T>(what: string, promise: Promise<T>): Promise<T> =>
    step(
      Promise.race([
        promise,
        new Promise<never>((_, reject) =>
          setTimeout(
            () =>
              reject(
                new CliError(`${what} did not start within ${START_TIMEOUT_MS / 1000} s; see its log above`),
              ),
            START_TIMEOUT_MS,
          ).unref(),
        ),
      ]),
    );

  let api: ApiClient | undefined;
  let failure: unknown;
  let why: Interruption | undefined;
  try {
    const base = childEnv(io.env, settings);
    const controlPlane = start(PARTS.controlPlane, entries.controlPlane, {
      ...base,
      LANEWAY_DATA_DIR: settings.dataDir,
      LANEWAY_GRPC_ADDR: `${HOST}:${settings.grpcPort}`,
      LANEWAY_HTTP_ADDR: `${HOST}:${settings.adminPort}`,
    });
    const listening = await started(
      'the control plane',
      controlPlane.waitFor((e) => e['msg'] === 'control plane listening'),
    );
    const grpcAddress = `${HOST}:${Number(listening['port'])}`;
    const adminPort = Number(listening['httpPort']);
    const envToken = io.env['LANEWAY_ADMIN_TOKEN']?.trim() || undefined;
    const adminTokenFile = envToken ? undefined : path.join(settings.dataDir, 'admin-token');
    const token = envToken ?? readFileSync(adminTokenFile!, 'utf8').trim();
    api = new ApiClient({ controlPlanes: [grpcAddress], token, deadlineMs: 15_000 });
    const cluster = await step(ensureCluster(api, settings.cluster));
    const joinToken = (await step(api.getJoinToken(settings.cluster))).token;
    if (cluster === 'created') io.err(`laneway dev: created cluster '${settings.cluster}'`);

    const server = start(
      PARTS.server,
      entries.server,
      {
        ...base,
        LANEWAY_CONTROL_PLANE: grpcAddress,
        LANEWAY_CLUSTER: settings.cluster,
        LANEWAY_JOIN_TOKEN: joinToken,
        LANEWAY_SERVER_NAME: settings.serverName,
        LANEWAY_HTTP_ADDR: `${HOST}:${settings.httpPort}`,
        // A dev cluster stops within seconds; in-flight jobs of a longer service are retried next time.
        LANEWAY_SHUTDOWN_TIMEOUT_MS: io.env['LANEWAY_SHUTDOWN_TIMEOUT_MS']?.trim() || '5000',
      },
      new Set(['cluster', 'server']),
    );
    const channels = server.waitFor((e) => e['msg'] === 'HTTP listener started');
    await started(
      'the server',
      server.waitFor((e) => e['msg'] === 'server serving'),
    );
    const httpPort = Number((await step(channels))['port']);

    const dev: DevCluster = {
      cluster: settings.cluster,
      grpcAddress,
      webAdminUrl: `http://${HOST}:${adminPort}/`,
      channelsUrl: `http://${HOST}:${httpPort}/`,
      serverName: settings.serverName,
      dataDir: settings.dataDir,
      adminTokenFile,
      logFiles: { controlPlane: controlPlane.options.logFile, server: server.options.logFile },
      pids: { controlPlane: controlPlane.pid, server: server.pid },
    };
    const context = {
      cwd: io.cwd,
      env: io.env,
      hasExample: existsSync(path.join(io.cwd, 'examples', 'hello.ts')),
    };
    io.out(io.json ? JSON.stringify(devJson(dev, context)) : formatDevBanner(dev, context));
    why = await interrupted;
  } catch (error) {
    if (error instanceof Interrupted) why = error.why;
    else failure = error;
  } finally {
    stopping = true;
    api?.close();
    // The server first: it leaves the control plane (and its in-flight jobs finish) while it is still there.
    for (const part of [...parts].reverse()) {
      if (part.running) await part.stop(STOP_GRACE_MS);
    }
    await Promise.all(parts.map((part) => part.exited));
    for (const [signal, handler] of handlers) io.signals.off(signal, handler);
    process.off('exit', killAll);
  }
  if (why?.kind === 'died') throw diedError(why.part, why.exit, parts);
  if (failure !== undefined) {
    if (failure instanceof CliError) throw failure;
    throw new CliError(
      `laneway dev could not start the cluster: ${failure instanceof Error ? failure.message : String(failure)}`,
      { cause: failure },
    );
  }
  // A second signal killed the parts instead of stopping them: 130, as a shell reports an interrupted command.
  if (signals > 1) return 130;
  if (!io.json)
    io.err(
      `laneway dev: stopped (${why?.kind === 'signal' ? why.signal : 'done'}); the data stays in ${settings.dataDir}`,
    );
  return 0;
}

/** The environment of both parts: the user's, without what dev decides, with JSON logs it can read. */
function childEnv(env: NodeJS.ProcessEnv, settings: DevSettings): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...env, LANEWAY_LOG_FORMAT: 'json' };
  for (const name of WITHHELD) delete base[name];
  if (settings.queuePrefix !== undefined) base['LANEWAY_QUEUE_PREFIX'] = settings.queuePrefix;
  return base;
}

/** Creates the cluster, or finds it there from an earlier run. */
async function ensureCluster(api: ApiClient, name: string): Promise<'created' | 'existed'> {
  try {
    await api.createCluster(name);
    return 'created';
  } catch (error) {
    if (error instanceof AlreadyExistsError) return 'existed';
    throw error;
  }
}

function diedError(part: DevPart, exit: PartExit, parts: readonly DevPart[]): CliError {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? 'unknown'}`;
  const others = parts.filter((p) => p !== part).map((p) => p.options.name.replace('-', ' '));
  const tail = part.stderrTail.length ? `; it said: ${part.stderrTail.join(' / ')}` : '';
  return new CliError(
    `the ${part.options.name.replace('-', ' ')} ${how}${tail}. Stopped ${others.length ? `the ${others.join(' and the ')}` : 'nothing else'}; its log: ${part.options.logFile}`,
  );
}
