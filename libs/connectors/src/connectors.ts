import type { ConnectionSpec } from '@laneway/proto';
import type { AmqpPublisher, RestClient, RestRequestOptions } from '@laneway/sdk';
import {
  Kysely,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type Dialect,
} from 'kysely';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { AmqpBackend, probeAmqp } from './amqp/amqp-backend';
import { ConnectionError } from './connection-error';
import { connectionFailure, describeConnection, kindOf, prefix, type ConnectionInfo, type ConnectionKind } from './connection-info';
import { RedisBackend } from './redis/redis-backend';
import { RestBackend } from './rest/rest-backend';
import { Slot, type CallDetail, type CallEnd } from './slot';
import { probeSql, SqlBackend, type PoolStats } from './sql/sql-backend';
import { RoutingDriver } from './sql/routing-driver';
import { probeRedis } from './redis/probe-redis';

/** One connection as the control plane pushed it. */
export interface ConnectionEntry {
  name: string;
  /** Changes whenever the settings do; an unchanged version keeps the pool. */
  version: string;
  spec: ConnectionSpec;
}

export interface ConnectorsOptions {
  /** This server's name, for error messages. */
  server: string;
  log?: Logger;
  /** How long a replaced or removed connection's pool may finish its calls before it is closed. Default 30 s. */
  drainTimeoutMs?: number;
  /**
   * Told of every call (a SQL query, a REST request, an AMQP publish): the connection's name and
   * kind, its duration in seconds, and whether it succeeded. For the server's metrics; unset, calls
   * are not timed.
   */
  onCall?: (name: string, kind: ConnectionKind, seconds: number, ok: boolean) => void;
  /**
   * Told of every call (a SQL query, a REST request, a Redis command, an AMQP publish) as it starts,
   * with the connection's description: the server's tracing makes a client span of it, and ends it
   * with what this returns. Unset (tracing off), calls are not traced.
   */
  traceCall?: (connection: ConnectionInfo, call: CallDetail) => CallEnd;
}

/** One connection now, as {@link Connectors.stats} reports it. */
export interface ConnectionStats {
  name: string;
  kind: ConnectionKind;
  /** Calls in flight on its current version. */
  inFlight: number;
  /** A SQL connection's pool once it is open. */
  pool?: PoolStats;
}

export type ConnectionTestOutcome = { ok: true; latencyMs: number } | { ok: false; error: string; latencyMs: number };

/** Services type their own tables (`ctx.sql<Tables>(name)`): the pool knows none. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDatabase = any;

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const DEFAULT_TEST_TIMEOUT_MS = 10_000;

const USE: Record<ConnectionKind, string> = {
  postgres: 'ctx.sql',
  mysql: 'ctx.sql',
  rest: 'ctx.rest',
  redis: 'ctx.redis',
  amqp: 'ctx.amqp',
};

/**
 * The pooled clients of a thread's outgoing connections (one instance per thread: the server's main
 * thread and each CPU worker). Pools open on first use. `replace` swaps the whole set: new calls go
 * to the new settings at once, and a replaced or removed version's pool closes once its calls in
 * flight are done (or after the drain timeout).
 */
export class Connectors {
  private readonly server: string;
  private readonly log: Logger;
  private readonly drainTimeoutMs: number;
  private current = new Map<string, Slot>();
  private readonly draining = new Set<Promise<void>>();
  private readonly sqlClients = new Map<string, Kysely<AnyDatabase>>();
  private readonly restClients = new Map<string, RestClient>();
  private readonly amqpClients = new Map<string, AmqpPublisher>();
  private closed = false;
  private readonly onCall: ConnectorsOptions['onCall'];
  private readonly traceCall: ConnectorsOptions['traceCall'];

  constructor(options: ConnectorsOptions) {
    this.onCall = options.onCall;
    this.traceCall = options.traceCall;
    this.server = options.server;
    this.log = options.log ?? pino({ level: 'silent' });
    this.drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  }

  /** The whole set of connections; what is missing from it is removed. */
  replace(entries: readonly ConnectionEntry[]): void {
    if (this.closed) throw new Error('Connectors are closed');
    const next = new Map<string, Slot>();
    for (const entry of entries) {
      const kind = kindOf(entry.spec);
      if (!kind) throw new Error(`connection '${entry.name}' has no settings (none of ${Object.keys(USE).join(', ')})`);
      const existing = this.current.get(entry.name);
      if (existing && existing.version === entry.version && existing.info.kind === kind) {
        next.set(entry.name, existing);
      } else {
        const slot = new Slot(entry.version, entry.spec, describeConnection(entry.name, kind, entry.spec));
        const onCall = this.onCall;
        if (onCall) slot.onCall = (seconds, ok) => onCall(entry.name, kind, seconds, ok);
        const traceCall = this.traceCall;
        if (traceCall) slot.traceCall = (call) => traceCall(slot.info, call);
        next.set(entry.name, slot);
      }
    }
    const previous = this.current;
    this.current = next;
    for (const [name, slot] of previous) {
      if (next.get(name) !== slot) this.retire(slot);
    }
  }

  /** The SQL connection `name` (postgres or mysql) as a Kysely instance that follows its settings. */
  sql(name: string): Kysely<AnyDatabase> {
    const slot = this.slot(name, 'sql', ['postgres', 'mysql']);
    const kind = slot.info.kind as 'postgres' | 'mysql';
    const key = `${kind}\0${name}`;
    let db = this.sqlClients.get(key);
    if (!db) {
      const driver = new RoutingDriver(() => {
        const current = this.slot(name, 'sql', [kind]);
        return { slot: current, backend: this.build(current, () => new SqlBackend(kind, current.spec[kind]!, current.info, this.log, this.server)) };
      });
      db = new SharedKysely<AnyDatabase>({ dialect: dialectOf(kind, driver) });
      this.sqlClients.set(key, db);
    }
    return db;
  }

  /** The REST connection `name`; each call goes to its current settings. */
  rest(name: string): RestClient {
    this.slot(name, 'rest', ['rest']);
    let client = this.restClients.get(name);
    if (!client) {
      const call = (method: string, path: string, body: unknown, options: RestRequestOptions | undefined) =>
        this.tracked(
          name,
          'rest',
          (slot) => this.build(slot, () => new RestBackend(slot.spec.rest!, slot.info)).call({ method, path, body, options }),
          () => ({ operation: method, statement: path }),
        );
      client = {
        get: (path, options) => call('GET', path, undefined, options),
        delete: (path, options) => call('DELETE', path, undefined, options),
        post: (path, body, options) => call('POST', path, body, options),
        put: (path, body, options) => call('PUT', path, body, options),
        patch: (path, body, options) => call('PATCH', path, body, options),
      } as RestClient;
      this.restClients.set(name, client);
    }
    return client;
  }

  /** The Redis connection `name`: the ioredis client of its current version, shared by the thread. */
  redis(name: string): Redis {
    const slot = this.slot(name, 'redis', ['redis']);
    return this.build(slot, () => new RedisBackend(slot.spec.redis!, slot, this.log)).client;
  }

  /** The AMQP connection `name`; each publish goes to its current settings. */
  amqp(name: string): AmqpPublisher {
    this.slot(name, 'amqp', ['amqp']);
    let publisher = this.amqpClients.get(name);
    if (!publisher) {
      publisher = {
        publish: (exchange, routingKey, message, options) =>
          this.tracked(name, 'amqp', (slot) =>
            this.build(slot, () => new AmqpBackend(slot.spec.amqp!, slot.info, this.log, this.server)).publish(exchange, routingKey, message, options),
            () => ({ operation: 'publish', exchange, routingKey }),
          ),
      };
      this.amqpClients.set(name, publisher);
    }
    return publisher;
  }

  /**
   * Opens the connection for real, apart from the pools: SELECT 1, an HTTP request to base_url (any
   * status counts), PING, or opening and closing a channel. Never throws.
   */
  async test(name: string, timeoutMs = DEFAULT_TEST_TIMEOUT_MS): Promise<ConnectionTestOutcome> {
    const started = performance.now();
    const latencyMs = (): number => Math.round(performance.now() - started);
    let slot: Slot;
    try {
      slot = this.slot(name, 'test', [...Object.keys(USE)] as ConnectionKind[]);
    } catch (err) {
      return { ok: false, error: (err as Error).message, latencyMs: latencyMs() };
    }
    const { info, spec } = slot;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const probe = this.probe(info, spec, timeoutMs);
    probe.catch(() => undefined);
    try {
      await Promise.race([probe, deadline]);
      return { ok: true, latencyMs: latencyMs() };
    } catch (err) {
      const code = err instanceof Error && err.message.startsWith('no answer within') ? 'TIMEOUT' : undefined;
      return { ok: false, error: connectionFailure(info, err, code).message, latencyMs: latencyMs() };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The current connections' figures (for the server's metrics): calls in flight, and a SQL pool's size, in use and waiting. */
  stats(): ConnectionStats[] {
    return [...this.current.entries()].map(([name, slot]) => {
      const backend = slot.createdBackend;
      return { name, kind: slot.info.kind, inFlight: slot.inFlight, ...(backend instanceof SqlBackend ? { pool: backend.poolStats() } : {}) };
    });
  }

  /** Resolves once every replaced or removed version's pool is closed (for shutdown and tests). */
  async whenDrained(): Promise<void> {
    while (this.draining.size > 0) await Promise.all([...this.draining]);
  }

  /** Closes every pool, waiting for the draining ones. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const slots = [...this.current.values()];
    this.current = new Map();
    for (const slot of slots) slot.retired = true;
    await Promise.all([...slots.map((slot) => this.closeSlot(slot)), ...this.draining]);
  }

  private async probe(info: ConnectionInfo, spec: ConnectionSpec, timeoutMs: number): Promise<void> {
    switch (info.kind) {
      case 'postgres':
      case 'mysql':
        return probeSql(info.kind, spec[info.kind]!, timeoutMs);
      case 'rest': {
        const backend = new RestBackend({ ...spec.rest!, timeoutMs, retries: 0 }, info);
        try {
          await backend.call({ method: 'GET', path: '', attempts: 1 });
        } finally {
          await backend.close();
        }
        return;
      }
      case 'redis':
        return probeRedis(spec.redis!, info, timeoutMs);
      case 'amqp':
        return probeAmqp(spec.amqp!, info, timeoutMs);
    }
  }

  /** Runs `work` on the connection's current version, counted as in flight on it. */
  private async tracked<T>(name: string, use: string, work: (slot: Slot) => Promise<T>, describe: () => CallDetail): Promise<T> {
    const slot = this.slot(name, use, [use as ConnectionKind]);
    slot.enter();
    const started = slot.onCall ? performance.now() : 0;
    const end = slot.traceCall?.(describe());
    let ok = false;
    let failure: unknown;
    let result: T | undefined;
    try {
      result = await work(slot);
      ok = true;
      return result;
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      slot.leave();
      slot.onCall?.((performance.now() - started) / 1000, ok);
      end?.(ok ? undefined : failure, ok ? (result as { status?: number } | undefined)?.status : undefined);
    }
  }

  private build<T extends { close(): Promise<void> }>(slot: Slot, create: () => T): T {
    try {
      return slot.backend(create);
    } catch (err) {
      throw connectionFailure(slot.info, err);
    }
  }

  private slot(name: string, use: string, kinds: readonly ConnectionKind[]): Slot {
    if (this.closed) {
      throw new ConnectionError(`connection '${name}' is closed: the server is shutting down`, { code: 'CLOSED', connection: name });
    }
    const slot = this.current.get(name);
    if (!slot) {
      const known = [...this.current.keys()].sort();
      throw new ConnectionError(
        `connection '${name}' is not defined on server '${this.server}' (${known.length ? `defined: ${known.join(', ')}` : 'no connections defined'}); check the name, or create the connection`,
        { code: 'NOT_DEFINED', connection: name },
      );
    }
    if (!kinds.includes(slot.info.kind)) {
      const wanted = use === 'sql' ? 'a SQL (postgres or mysql)' : `a ${use}`;
      throw new ConnectionError(`${prefix(slot.info)} is not ${wanted} connection: use ${USE[slot.info.kind]}('${name}')`, {
        code: 'WRONG_KIND',
        connection: name,
        kind: slot.info.kind,
        target: slot.info.target,
      });
    }
    return slot;
  }

  private retire(slot: Slot): void {
    slot.retired = true;
    if (!slot.created) return;
    const drained = slot
      .idle(this.drainTimeoutMs)
      .then((idle) => {
        if (!idle) {
          this.log.warn({ connection: slot.info.name, version: slot.version, inFlight: slot.inFlight }, 'drain timeout: closing a replaced connection with calls in flight');
        }
        return this.closeSlot(slot);
      })
      .finally(() => this.draining.delete(drained));
    this.draining.add(drained);
  }

  private async closeSlot(slot: Slot): Promise<void> {
    try {
      await slot.close();
      this.log.debug({ connection: slot.info.name, version: slot.version }, 'connection pool closed');
    } catch (err) {
      this.log.warn({ connection: slot.info.name, err: connectionFailure(slot.info, err).message }, 'closing a connection pool failed');
    }
  }
}

/** The pools belong to Connectors: a service calling `destroy()` on its instance changes nothing. */
class SharedKysely<DB> extends Kysely<DB> {
  override async destroy(): Promise<void> {
    // Nothing: see the class comment.
  }
}

function dialectOf(kind: 'postgres' | 'mysql', driver: RoutingDriver): Dialect {
  return kind === 'postgres'
    ? {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => driver,
        createQueryCompiler: () => new PostgresQueryCompiler(),
        createIntrospector: (db) => new PostgresIntrospector(db),
      }
    : {
        createAdapter: () => new MysqlAdapter(),
        createDriver: () => driver,
        createQueryCompiler: () => new MysqlQueryCompiler(),
        createIntrospector: (db) => new MysqlIntrospector(db),
      };
}
