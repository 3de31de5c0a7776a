import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_QUEUE_PREFIX, redisSettingsFromEnv, type RedisSettings } from '@laneway/lanes';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { parseSecretKey, parseSecretKeys } from '../secrets/keyring';
import { decideTls, type TlsSettings } from '../tls/tls-settings';

const GiB = 1024 * 1024 * 1024;

/** The largest value each limit may be set to (beyond these a limit protects nothing). */
const LIMIT_CEILINGS: Readonly<Limits> = {
  maxDeployFiles: 1_000_000,
  maxFileBytes: GiB,
  maxDeployBytes: GiB,
  maxPathLength: 65_536,
  maxInvokeInputBytes: GiB,
  // JSON.stringify overflows the stack at about 4,000 levels; keep well clear of it.
  maxInvokeInputDepth: 1024,
  maxNameLength: 65_536,
  // Node timers cannot wait longer than 2^31-1 ms; a day is plenty.
  maxTimeoutMs: 24 * 3600_000,
  maxListLimit: 1_000_000,
};

/** A limit's variable: digits, from 1 to the limit's ceiling; unset or empty means the default. */
const limit = (key: keyof Limits) =>
  z
    .string()
    .trim()
    .regex(/^\d*$/, 'must be a whole number (digits only)')
    .optional()
    .transform((value) => (value ? Number(value) : DEFAULT_LIMITS[key]))
    .pipe(
      z
        .number()
        .min(1, 'must be at least 1')
        .max(LIMIT_CEILINGS[key], `must be at most ${LIMIT_CEILINGS[key]}`),
    );


/** Where the control plane serves GET /metrics and GET /healthz unless LANEWAY_HTTP_ADDR says otherwise (servers' channels default to 8080). */
export const DEFAULT_HTTP_ADDR = '127.0.0.1:8090';

const schema = z.object({
  LANEWAY_GRPC_ADDR: z.string().min(1).default('127.0.0.1:50051'),
  LANEWAY_HTTP_ADDR: z
    .string()
    .regex(/^(off|(\[[^\]]*\]|[^:]*):\d+)$/, 'must be HOST:PORT (port 0: any free port), or off for no HTTP listener')
    .default(DEFAULT_HTTP_ADDR),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  LANEWAY_DATA_DIR: z.string().min(1).default('./.laneway'),
  // REDIS_URL, LANEWAY_REDIS_CLUSTER, LANEWAY_REDIS_SENTINELS...: read by redisSettingsFromEnv (one mode of three).
  LANEWAY_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only').default(DEFAULT_QUEUE_PREFIX),
  LANEWAY_ADMIN_TOKEN: z
    .string()
    .min(16, 'use at least 16 characters')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  // Unset or empty: pretty on a terminal, JSON lines otherwise (main.ts decides, from process.stdout.isTTY).
  LANEWAY_LOG_FORMAT: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.enum(['auto', 'pretty', 'json']).default('auto'),
  ),
  // Compile processes (deploy/compiler-pool.ts): how many, their heap, the bound on a file's top level.
  LANEWAY_COMPILE_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  LANEWAY_COMPILE_MAX_HEAP_MB: z.coerce.number().int().min(64).max(65_536).default(512),
  LANEWAY_LOAD_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(2000),
  // How often the schedules' job schedulers in Redis are checked against the store (schedules/schedule-keeper.ts).
  LANEWAY_SCHEDULE_CHECK_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  // The limits of limits.ts (LIMIT_VARIABLES names the same variables).
  LANEWAY_MAX_DEPLOY_FILES: limit('maxDeployFiles'),
  LANEWAY_MAX_FILE_BYTES: limit('maxFileBytes'),
  LANEWAY_MAX_DEPLOY_BYTES: limit('maxDeployBytes'),
  LANEWAY_MAX_PATH_LENGTH: limit('maxPathLength'),
  LANEWAY_MAX_INVOKE_INPUT_BYTES: limit('maxInvokeInputBytes'),
  LANEWAY_MAX_INVOKE_INPUT_DEPTH: limit('maxInvokeInputDepth'),
  LANEWAY_MAX_NAME_LENGTH: limit('maxNameLength'),
  LANEWAY_MAX_TIMEOUT_MS: limit('maxTimeoutMs'),
  LANEWAY_MAX_LIST_LIMIT: limit('maxListLimit'),
  // TLS of the gRPC API (tls/tls-settings.ts decides the mode from these and LANEWAY_GRPC_ADDR).
  LANEWAY_TLS: z.preprocess((value) => (value === '' ? undefined : value), z.enum(['on', 'off']).optional()),
  LANEWAY_TLS_CERT: z.string().optional().transform((value) => value?.trim() || undefined),
  LANEWAY_TLS_KEY: z.string().optional().transform((value) => value?.trim() || undefined),
  LANEWAY_TLS_SANS: z
    .string()
    .optional()
    .transform((value) => (value ?? '').split(',').map((name) => name.trim()).filter(Boolean)),
  LANEWAY_INSECURE: z.preprocess((value) => (value === '' ? undefined : value), z.enum(['true', 'false']).default('false')),
  // The key of the stored secrets (secrets/keyring.ts), checked below: a bad one is never echoed.
  LANEWAY_SECRET_KEY: z.string().optional().transform((value) => value?.trim() || undefined),
  LANEWAY_SECRET_KEY_PREVIOUS: z.string().optional().transform((value) => value?.trim() || undefined),
});

export type LogFormat = 'auto' | 'pretty' | 'json';

export interface ControlPlaneConfig {
  grpcAddress: string;
  /**
   * LANEWAY_HTTP_ADDR: the control plane's HTTP listener (GET /metrics, GET /healthz); an empty host
   * is every interface. `off` (or absent in a config built by hand): no listener.
   */
  httpAddress?: { host: string; port: number } | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
  /** REDIS_URL in one-Redis mode; '' in the other modes (see `redis`). */
  redisUrl: string;
  /**
   * Which Redis and how to reach it: REDIS_URL, LANEWAY_REDIS_CLUSTER, or LANEWAY_REDIS_SENTINELS with
   * LANEWAY_REDIS_SENTINEL_MASTER (and LANEWAY_REDIS_WAIT_REPLICAS). Absent in a config built by hand:
   * the one Redis at `redisUrl`.
   */
  redis?: RedisSettings;
  queuePrefix: string;
  /** Unset: generated and kept in dataDir/admin-token. */
  adminToken: string | undefined;
  logLevel: string;
  /**
   * LANEWAY_LOG_FORMAT: 'auto' (default) is pretty when stdout is a terminal, else JSON lines. Only
   * main.ts reads it, to make the root logger; absent (a config built by hand, in tests) is 'auto'.
   */
  logFormat?: LogFormat;
  /** What one API call may carry; each field's variable and default are documented in limits.ts. */
  limits: Readonly<Limits>;
  /** The processes that compile and inspect uploads (a crash or a runaway there costs one deploy). */
  compile: Readonly<CompileSettings>;
  /**
   * LANEWAY_SCHEDULE_CHECK_MS: how often the job schedulers in Redis are compared with the stored
   * schedules and repaired (Redis keeps nothing on disk). Absent (a config built by hand): 30 s.
   */
  scheduleCheckMs?: number;
  /** How the gRPC API is served (LANEWAY_TLS*, LANEWAY_INSECURE); absent (a config built by hand) is plaintext. */
  tls?: TlsSettings;
  /**
   * LANEWAY_SECRET_KEY: base64 of 32 bytes, the AES-256-GCM key stored secrets are sealed with. Unset:
   * a key generated into dataDir/secret-keys.json (mode 0600). Control planes sharing one PostgreSQL
   * database need the same key.
   */
  secretKey?: string | undefined;
  /** LANEWAY_SECRET_KEY_PREVIOUS: retired keys (comma-separated) that still open values until `laneway secrets rotate-key`. */
  previousSecretKeys?: string | undefined;
}

export interface CompileSettings {
  /** LANEWAY_COMPILE_WORKERS, default min(2, cores): processes, each working on one batch at a time. */
  workers: number;
  /** LANEWAY_COMPILE_MAX_HEAP_MB, default 512: V8 heap of each; compiling or loading past it fails that deploy. */
  maxHeapMb: number;
  /** LANEWAY_LOAD_TIMEOUT_MS, default 2000: bound on each file's top-level code when it is inspected. */
  loadTimeoutMs: number;
}

/** The only reader of the environment in the control plane. Throws naming each bad variable and value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ControlPlaneConfig> {
  const parsed = schema.safeParse(env);
  const redis = redisSettingsFromEnv(env);
  if (!parsed.success || 'problems' in redis) {
    const problems = (parsed.error?.issues ?? []).map((issue) => {
      const key = String(issue.path[0]);
      return `${key}=${JSON.stringify(env[key])}: ${issue.message}`;
    });
    if ('problems' in redis) problems.push(...redis.problems);
    throw new Error(`invalid control-plane configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  try {
    // Parsed again when the keyring loads; here so that a bad key fails like any bad variable, by name.
    if (c.LANEWAY_SECRET_KEY) parseSecretKey(c.LANEWAY_SECRET_KEY, 'LANEWAY_SECRET_KEY');
    parseSecretKeys(c.LANEWAY_SECRET_KEY_PREVIOUS, 'LANEWAY_SECRET_KEY_PREVIOUS');
  } catch (err) {
    throw new Error(`invalid control-plane configuration: ${(err as Error).message}`);
  }
  let tls: TlsSettings;
  try {
    tls = decideTls({
      address: c.LANEWAY_GRPC_ADDR,
      tls: c.LANEWAY_TLS,
      certFile: c.LANEWAY_TLS_CERT && path.resolve(c.LANEWAY_TLS_CERT),
      keyFile: c.LANEWAY_TLS_KEY && path.resolve(c.LANEWAY_TLS_KEY),
      insecure: c.LANEWAY_INSECURE === 'true',
      extraNames: c.LANEWAY_TLS_SANS,
    });
  } catch (err) {
    throw new Error(`invalid control-plane configuration: ${(err as Error).message}`, { cause: err });
  }
  let httpAddress: ControlPlaneConfig['httpAddress'];
  if (c.LANEWAY_HTTP_ADDR !== 'off') {
    const at = c.LANEWAY_HTTP_ADDR.lastIndexOf(':');
    // An IPv6 host may come in brackets ([::1]:8090); node listens on it without them.
    const host = c.LANEWAY_HTTP_ADDR.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    httpAddress = Object.freeze({ host: host || '0.0.0.0', port: Number(c.LANEWAY_HTTP_ADDR.slice(at + 1)) });
  }
  return Object.freeze({
    grpcAddress: c.LANEWAY_GRPC_ADDR,
    httpAddress,
    databaseUrl: c.DATABASE_URL,
    dataDir: path.resolve(c.LANEWAY_DATA_DIR),
    redisUrl: redis.settings.mode === 'single' ? redis.settings.url : '',
    redis: redis.settings,
    queuePrefix: c.LANEWAY_QUEUE_PREFIX,
    adminToken: c.LANEWAY_ADMIN_TOKEN,
    logLevel: c.LOG_LEVEL,
    logFormat: c.LANEWAY_LOG_FORMAT,
    scheduleCheckMs: c.LANEWAY_SCHEDULE_CHECK_MS,
    tls: Object.freeze(tls),
    secretKey: c.LANEWAY_SECRET_KEY,
    previousSecretKeys: c.LANEWAY_SECRET_KEY_PREVIOUS,
    compile: Object.freeze({
      workers: c.LANEWAY_COMPILE_WORKERS ?? Math.min(2, os.availableParallelism()),
      maxHeapMb: c.LANEWAY_COMPILE_MAX_HEAP_MB,
      loadTimeoutMs: c.LANEWAY_LOAD_TIMEOUT_MS,
    }),
    limits: Object.freeze({
      maxDeployFiles: c.LANEWAY_MAX_DEPLOY_FILES,
      maxFileBytes: c.LANEWAY_MAX_FILE_BYTES,
      maxDeployBytes: c.LANEWAY_MAX_DEPLOY_BYTES,
      maxPathLength: c.LANEWAY_MAX_PATH_LENGTH,
      maxInvokeInputBytes: c.LANEWAY_MAX_INVOKE_INPUT_BYTES,
      maxInvokeInputDepth: c.LANEWAY_MAX_INVOKE_INPUT_DEPTH,
      maxNameLength: c.LANEWAY_MAX_NAME_LENGTH,
      maxTimeoutMs: c.LANEWAY_MAX_TIMEOUT_MS,
      maxListLimit: c.LANEWAY_MAX_LIST_LIMIT,
    }),
  });
}
