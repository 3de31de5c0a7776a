import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_QUEUE_PREFIX } from '@laneway/lanes';

const schema = z.object({
  LANEWAY_GRPC_ADDR: z.string().min(1).default('127.0.0.1:50051'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  LANEWAY_DATA_DIR: z.string().min(1).default('./.laneway'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').default('redis://127.0.0.1:6379'),
  LANEWAY_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only').default(DEFAULT_QUEUE_PREFIX),
  LANEWAY_ADMIN_TOKEN: z
    .string()
    .min(16, 'use at least 16 characters')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export interface ControlPlaneConfig {
  grpcAddress: string;
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string;
  queuePrefix: string;
  /** Unset: generated and kept in dataDir/admin-token. */
  adminToken: string | undefined;
  logLevel: string;
}

/** The only reader of the environment in the control plane. Throws naming each bad variable and value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ControlPlaneConfig> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]);
      return `${key}=${JSON.stringify(env[key])}: ${issue.message}`;
    });
    throw new Error(`invalid control-plane configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  return Object.freeze({
    grpcAddress: c.LANEWAY_GRPC_ADDR,
    databaseUrl: c.DATABASE_URL,
    dataDir: path.resolve(c.LANEWAY_DATA_DIR),
    redisUrl: c.REDIS_URL,
    queuePrefix: c.LANEWAY_QUEUE_PREFIX,
    adminToken: c.LANEWAY_ADMIN_TOKEN,
    logLevel: c.LOG_LEVEL,
  });
}
