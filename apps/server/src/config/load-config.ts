import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_QUEUE_PREFIX, redisSettingsFromEnv, type RedisSettings } from '@laneway/lanes';
import { parseControlPlaneList } from './control-plane-list';

/** Where a server answers channels and /healthz unless LANEWAY_HTTP_ADDR says otherwise. */
export const DEFAULT_HTTP_ADDR = '127.0.0.1:8080';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  LANEWAY_CONTROL_PLANE: z
    .string()
    .default('127.0.0.1:50051')
    .transform((value, ctx) => {
      const parsed = parseControlPlaneList(value);
      if ('addresses' in parsed) return parsed.addresses;
      ctx.addIssue({ code: 'custom', message: parsed.problem });
      return z.NEVER;
    }),
  LANEWAY_CLUSTER: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'not a valid cluster name').default('default'),
  LANEWAY_SERVER_NAME: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ., -, _ only').optional(),
  // REDIS_URL, LANEWAY_REDIS_CLUSTER, LANEWAY_REDIS_SENTINELS...: read by redisSettingsFromEnv (one mode of three).
  LANEWAY_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only').default(DEFAULT_QUEUE_PREFIX),
  LANEWAY_HTTP_ADDR: z
    .string()
    .regex(/^(off|[^:]*:\d+)$/, 'must be HOST:PORT (port 0: any free port), or off for no channel listener')
    .default(DEFAULT_HTTP_ADDR),
  LANEWAY_DEBUG_ADDR: z
    .string()
    .regex(/^[^:]*:\d+$/, 'must be HOST:PORT')
    .optional(),
  LANEWAY_HTTP_MAX_IN_FLIGHT: int(1, 1_000_000).default(1000),
  LANEWAY_HTTP_MAX_BODY_BYTES: int(0, 1024 * 1024 * 1024).default(1024 * 1024),
  LANEWAY_HTTP_REQUEST_TIMEOUT_MS: int(100, 3600_000).default(30_000),
  LANEWAY_HTTP_MAX_HEADER_BYTES: int(1024, 1024 * 1024).default(16 * 1024),
  LANEWAY_NETWORK_CONCURRENCY: int(1, 10_000).default(200),
  LANEWAY_NETWORK_FETCHERS: int(1, 16).default(2),
  LANEWAY_CPU_THREADS: int(1, 256).optional(),
  LANEWAY_CPU_JOB_TIMEOUT_MS: int(10, 24 * 3600_000).default(60_000),
  LANEWAY_JOIN_TOKEN: z.string().optional(),
  LANEWAY_TLS_CA: z.string().optional().transform((value) => value?.trim() || undefined),
  LANEWAY_JOB_LOCK_MS: int(1000, 3600_000).default(30_000),
  LANEWAY_SHUTDOWN_TIMEOUT_MS: int(0, 3600_000).default(30_000),
  LANEWAY_CPU_THREAD_MAX_HEAP_MB: int(16, 64 * 1024).default(512),
  LANEWAY_CPU_SCHED: z.enum(['idle', 'nice']).default('idle'),
  LANEWAY_LOAD_TIMEOUT_MS: int(10, 600_000).default(2000),
  LANEWAY_LOAD_MAX_HEAP_MB: int(0, 64 * 1024)
    .refine((mb) => mb === 0 || mb >= 16, '0 (no load-check thread) or at least 16')
    .default(512),
  LANEWAY_METRICS: z.enum(['on', 'off']).default('on'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  // Unset or empty: pretty on a terminal, JSON lines otherwise (main.ts decides, from process.stdout.isTTY).
  LANEWAY_LOG_FORMAT: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.enum(['auto', 'pretty', 'json']).default('auto'),
  ),
});

export type LogFormat = 'auto' | 'pretty' | 'json';

export interface ServerConfig {
  /**
   * LANEWAY_CONTROL_PLANE: the control planes' `HOST:PORT`s, in order (control planes sharing one
   * PostgreSQL database). The sync stream goes to one; when it is lost or cannot be opened, the next
   * attempt goes to the next address, round robin.
   */
  controlPlanes: readonly string[];
  cluster: string;
  serverName: string;
  /** REDIS_URL in one-Redis mode; '' in the other modes (see `redis`). */
  redisUrl: string;
  /**
   * Which Redis and how to reach it: REDIS_URL, LANEWAY_REDIS_CLUSTER, or LANEWAY_REDIS_SENTINELS with
   * LANEWAY_REDIS_SENTINEL_MASTER (and LANEWAY_REDIS_WAIT_REPLICAS). Absent in a config built by hand:
   * the one Redis at `redisUrl`.
   */
  redis?: RedisSettings;
  queuePrefix: string;
  httpAddress: { host: string; port: number } | undefined;
  /**
   * LANEWAY_DEBUG_ADDR: where `GET /debug/memory` is served, on a listener of its own (never the
   * public channel listener); an empty host is 127.0.0.1. Unset (or absent in a config built by
   * hand): no debug listener.
   */
  debugAddress?: { host: string; port: number } | undefined;
  /** REST channel requests at once on this server; beyond it, 503. */
  httpMaxInFlight: number;
  /** Bytes of a channel request's body; beyond it, 413. */
  httpMaxBodyBytes: number;
  /** Time to receive a whole HTTP request (headers and body); past it, 408. */
  httpRequestTimeoutMs: number;
  /** Bytes of an HTTP request's headers; beyond them, 431. */
  httpMaxHeaderBytes: number;
  networkConcurrency: number;
  networkFetchers: number;
  cpuThreads: number;
  cpuJobTimeoutMs: number;
  /** The cluster's join token (ClusterService.GetJoinToken); loadConfig refuses to start without one. */
  joinToken: string | undefined;
  /**
   * LANEWAY_TLS_CA: PEM file of the CA(s) that signed the control plane's certificate; set, the sync
   * stream uses TLS and verifies it; unset, plaintext. Absent in a config built by hand: plaintext.
   */
  tlsCaFile?: string | undefined;
  /** BullMQ job lock: a crashed server's jobs are taken over after about this long. */
  jobLockMs: number;
  /** SIGTERM: how long in-flight jobs get to finish before the server exits anyway. */
  shutdownTimeoutMs: number;
  /** A CPU thread whose heap grows past this is replaced after its current job. */
  cpuThreadMaxHeapMb: number;
  /**
   * LANEWAY_CPU_SCHED: how CPU threads give way to the main thread. 'idle' (default): nice 19 and the
   * SCHED_IDLE policy (through chrt; nice 19 alone if that fails); 'nice': nice 19 only.
   */
  cpuSched: 'idle' | 'nice';
  /** Bound on a service module's top-level code when this server loads it (both lanes). */
  loadTimeoutMs: number;
  /**
   * Heap limit of the thread that evaluates new network-lane modules before the main thread does;
   * 0: no such thread (a heap blow-up at load then ends the server).
   */
  loadMaxHeapMb: number;
  /** LANEWAY_METRICS: GET /metrics and the measuring behind it; false = off (absent in a config built by hand: on). */
  metrics?: boolean;
  logLevel: string;
  /**
   * LANEWAY_LOG_FORMAT: 'auto' (default) is pretty when stdout is a terminal, else JSON lines. Only
   * main.ts reads it, to make the root logger; absent (a config built by hand, in tests) is 'auto'.
   */
  logFormat?: LogFormat;
}

/** The only reader of the environment in the server. Throws naming each bad variable and value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ServerConfig> {
  const parsed = schema.safeParse(env);
  const redis = redisSettingsFromEnv(env);
  if (!parsed.success || 'problems' in redis) {
    const problems = (parsed.error?.issues ?? []).map((issue) => {
      const key = String(issue.path[0]);
      return `${key}=${JSON.stringify(env[key])}: ${issue.message}`;
    });
    if ('problems' in redis) problems.push(...redis.problems);
    throw new Error(`invalid server configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  const joinToken = c.LANEWAY_JOIN_TOKEN?.trim();
  if (!joinToken) {
    // Without it the control plane refuses the sync stream: say so now, not in a retry loop.
    throw new Error(
      `LANEWAY_JOIN_TOKEN is not set: a server joins cluster '${c.LANEWAY_CLUSTER}' with its join token. ` +
        `Print it with \`npx laneway cluster token ${c.LANEWAY_CLUSTER}\` and start the server with LANEWAY_JOIN_TOKEN=<token> ` +
        `(e.g. export LANEWAY_JOIN_TOKEN=$(npx laneway cluster token ${c.LANEWAY_CLUSTER}))`,
    );
  }
  let httpAddress: ServerConfig['httpAddress'];
  if (c.LANEWAY_HTTP_ADDR !== 'off') {
    const at = c.LANEWAY_HTTP_ADDR.lastIndexOf(':');
    httpAddress = { host: c.LANEWAY_HTTP_ADDR.slice(0, at) || '0.0.0.0', port: Number(c.LANEWAY_HTTP_ADDR.slice(at + 1)) };
  }
  let debugAddress: ServerConfig['debugAddress'];
  if (c.LANEWAY_DEBUG_ADDR) {
    const at = c.LANEWAY_DEBUG_ADDR.lastIndexOf(':');
    debugAddress = { host: c.LANEWAY_DEBUG_ADDR.slice(0, at) || '127.0.0.1', port: Number(c.LANEWAY_DEBUG_ADDR.slice(at + 1)) };
  }
  return Object.freeze({
    controlPlanes: Object.freeze(c.LANEWAY_CONTROL_PLANE),
    cluster: c.LANEWAY_CLUSTER,
    serverName: c.LANEWAY_SERVER_NAME ?? `${os.hostname()}-${process.pid}`,
    redisUrl: redis.settings.mode === 'single' ? redis.settings.url : '',
    redis: redis.settings,
    queuePrefix: c.LANEWAY_QUEUE_PREFIX,
    httpAddress,
    debugAddress,
    httpMaxInFlight: c.LANEWAY_HTTP_MAX_IN_FLIGHT,
    httpMaxBodyBytes: c.LANEWAY_HTTP_MAX_BODY_BYTES,
    httpRequestTimeoutMs: c.LANEWAY_HTTP_REQUEST_TIMEOUT_MS,
    httpMaxHeaderBytes: c.LANEWAY_HTTP_MAX_HEADER_BYTES,
    networkConcurrency: c.LANEWAY_NETWORK_CONCURRENCY,
    networkFetchers: c.LANEWAY_NETWORK_FETCHERS,
    cpuThreads: c.LANEWAY_CPU_THREADS ?? Math.max(1, os.availableParallelism()),
    cpuJobTimeoutMs: c.LANEWAY_CPU_JOB_TIMEOUT_MS,
    joinToken,
    tlsCaFile: c.LANEWAY_TLS_CA && path.resolve(c.LANEWAY_TLS_CA),
    jobLockMs: c.LANEWAY_JOB_LOCK_MS,
    shutdownTimeoutMs: c.LANEWAY_SHUTDOWN_TIMEOUT_MS,
    cpuThreadMaxHeapMb: c.LANEWAY_CPU_THREAD_MAX_HEAP_MB,
    cpuSched: c.LANEWAY_CPU_SCHED,
    loadTimeoutMs: c.LANEWAY_LOAD_TIMEOUT_MS,
    loadMaxHeapMb: c.LANEWAY_LOAD_MAX_HEAP_MB,
    metrics: c.LANEWAY_METRICS === 'on',
    logLevel: c.LOG_LEVEL,
    logFormat: c.LANEWAY_LOG_FORMAT,
  });
}
