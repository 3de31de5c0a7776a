import { rootCertificates } from 'node:tls';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { SqlConnection } from '@laneway/proto';
import { CompiledQuery, MysqlDialect, PostgresDialect, type DatabaseConnection, type Driver } from 'kysely';
import type mysql from 'mysql2';
import type pg from 'pg';
import { mysql as loadMysql, pg as loadPg } from '../drivers';
import type { Logger } from 'pino';
import { connectionFailure, scrub, type ConnectionInfo } from '../connection-info';
import type { Backend } from '../slot';

/** Idle pooled connections stay open this long: a password rotated in the database does not break
 * them, so the pool keeps working until the connection's new settings arrive. */
const IDLE_TIMEOUT_MS = 60 * 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_POOL_SIZE = 10;

type SqlKind = 'postgres' | 'mysql';

/** A SQL pool's figures: its bound, connections open, connections lent out, and acquires waiting for one. */
export interface PoolStats {
  max: number;
  size: number;
  inUse: number;
  waiting: number;
}

/** A pg or mysql2 pool for one connection version, behind Kysely's own driver for that dialect. */
export class SqlBackend implements Backend {
  readonly driver: Driver;
  private readonly ready: Promise<void>;
  /** The pool's figures now (see {@link poolStats}). */
  readonly poolStats: () => PoolStats;

  constructor(
    readonly kind: SqlKind,
    private readonly spec: SqlConnection,
    private readonly info: ConnectionInfo,
    log: Logger,
    server: string,
  ) {
    const onPoolError = (err: Error): void => {
      // An idle pooled connection died (server restart, network): the pool replaces it on demand.
      log.warn({ connection: info.name, kind, err: scrub(err.message, info.secrets) }, 'idle SQL connection lost');
    };
    if (kind === 'postgres') {
      const pool = new (loadPg().Pool)({ ...pgConfig(spec, server), max: spec.poolSize || DEFAULT_POOL_SIZE, idleTimeoutMillis: IDLE_TIMEOUT_MS });
      pool.on('error', onPoolError);
      this.driver = new PostgresDialect({ pool }).createDriver();
      const max = spec.poolSize || DEFAULT_POOL_SIZE;
      this.poolStats = () => ({ max, size: pool.totalCount, inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount });
    } else {
      const pool = loadMysql().createPool({
        ...mysqlConfig(spec),
        connectionLimit: spec.poolSize || DEFAULT_POOL_SIZE,
        maxIdle: spec.poolSize || DEFAULT_POOL_SIZE,
        idleTimeout: IDLE_TIMEOUT_MS,
        enableKeepAlive: true,
        waitForConnections: true,
      });
      pool.on('connection', (conn) => conn.on('error', onPoolError));
      const max = spec.poolSize || DEFAULT_POOL_SIZE;
      // mysql2 keeps these in fields of its pool that it does not declare; read them defensively.
      const inner = pool as unknown as { _allConnections?: { length: number }; _freeConnections?: { length: number }; _connectionQueue?: { length: number } };
      this.poolStats = () => {
        const size = inner._allConnections?.length ?? 0;
        return { max, size, inUse: size - (inner._freeConnections?.length ?? 0), waiting: inner._connectionQueue?.length ?? 0 };
      };
      const timeoutMs = spec.statementTimeoutMs;
      this.driver = new MysqlDialect({
        pool,
        onCreateConnection: timeoutMs ? (conn) => setMysqlStatementTimeout(conn, timeoutMs) : undefined,
      }).createDriver();
    }
    this.ready = this.driver.init();
  }

  async acquire(): Promise<DatabaseConnection> {
    try {
      await this.ready;
      return await this.driver.acquireConnection();
    } catch (err) {
      throw connectionFailure(this.info, err);
    }
  }

  async close(): Promise<void> {
    await this.driver.destroy();
  }
}

/** Opens one fresh connection with the settings, runs SELECT 1 and closes it. */
export async function probeSql(kind: SqlKind, spec: SqlConnection, timeoutMs: number): Promise<void> {
  if (kind === 'postgres') {
    const client = new (loadPg().Client)({ ...pgConfig(spec, 'test'), connectionTimeoutMillis: timeoutMs });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => undefined);
    }
    return;
  }
  const conn = loadMysql().createConnection({ ...mysqlConfig(spec), connectTimeout: timeoutMs });
  conn.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => conn.query('SELECT 1', (err) => (err ? reject(err) : resolve())));
  } finally {
    conn.destroy();
  }
}

function pgConfig(spec: SqlConnection, server: string): pg.ClientConfig {
  return {
    host: spec.host || 'localhost',
    port: spec.port || 5432,
    database: spec.database || undefined,
    user: spec.user || undefined,
    password: spec.password || undefined,
    ssl: tlsOptions(spec) ?? false,
    connectionTimeoutMillis: spec.connectTimeoutMs || DEFAULT_CONNECT_TIMEOUT_MS,
    statement_timeout: spec.statementTimeoutMs || undefined,
    application_name: `laneway ${server}`.slice(0, 63),
    keepAlive: true,
  };
}

function mysqlConfig(spec: SqlConnection): mysql.ConnectionOptions {
  const tls = tlsOptions(spec);
  return {
    host: spec.host || 'localhost',
    port: spec.port || 3306,
    database: spec.database || undefined,
    user: spec.user || undefined,
    password: spec.password || undefined,
    ssl: tls ? { ca: tls.ca as string[] | undefined, rejectUnauthorized: tls.rejectUnauthorized } : undefined,
    connectTimeout: spec.connectTimeoutMs || DEFAULT_CONNECT_TIMEOUT_MS,
  };
}

function tlsOptions(spec: SqlConnection): TlsConnectionOptions | undefined {
  switch (spec.tlsMode || 'disable') {
    case 'disable':
      return undefined;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-full':
      // Node checks the certificate's name against `servername` (the host) when rejectUnauthorized.
      return {
        rejectUnauthorized: true,
        servername: spec.host || 'localhost',
        ca: spec.caPem ? [...rootCertificates, spec.caPem] : undefined,
      };
    default:
      throw new Error(`tls_mode '${spec.tlsMode}' is not one of disable, require, verify-full`);
  }
}

/** MariaDB names it max_statement_time (seconds), MySQL max_execution_time (ms, SELECT only). */
async function setMysqlStatementTimeout(conn: DatabaseConnection, timeoutMs: number): Promise<void> {
  try {
    await conn.executeQuery(CompiledQuery.raw(`SET SESSION max_statement_time = ${timeoutMs / 1000}`));
  } catch {
    await conn.executeQuery(CompiledQuery.raw(`SET SESSION max_execution_time = ${Math.round(timeoutMs)}`));
  }
}
