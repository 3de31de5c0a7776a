import type { CompiledQuery, DatabaseConnection, Driver, QueryCompiler, QueryResult, TransactionSettings } from 'kysely';
import { scrubError, prefix } from '../connection-info';
import type { Slot } from '../slot';
import type { SqlBackend } from './sql-backend';

/** Resolves the connection's current version (throws a ConnectionError when it is gone or another kind). */
export type SqlSlotResolver = () => { slot: Slot; backend: SqlBackend };

interface Lease {
  slot: Slot;
  backend: SqlBackend;
  inner: DatabaseConnection;
}

/**
 * A Kysely driver bound to a connection name rather than to one pool: every acquire goes to the
 * connection's current version, and counts as in flight on it until released, so a replaced version's
 * pool closes once its queries and transactions are done. A Kysely instance kept by a service therefore
 * follows settings changes.
 */
export class RoutingDriver implements Driver {
  private readonly leases = new WeakMap<DatabaseConnection, Lease>();

  constructor(private readonly resolve: SqlSlotResolver) {}

  async init(): Promise<void> {
    // Each version's own driver is initialised when its pool is created.
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const { slot, backend } = this.resolve();
    slot.enter();
    let inner: DatabaseConnection;
    try {
      inner = await backend.acquire();
    } catch (err) {
      slot.leave();
      throw err;
    }
    const outer = new ScrubbingConnection(inner, slot);
    this.leases.set(outer, { slot, backend, inner });
    return outer;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const lease = this.lease(connection);
    await guard(lease.slot, lease.backend.driver.beginTransaction(lease.inner, settings));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = this.lease(connection);
    await guard(lease.slot, lease.backend.driver.commitTransaction(lease.inner));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = this.lease(connection);
    await guard(lease.slot, lease.backend.driver.rollbackTransaction(lease.inner));
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    const lease = this.lease(connection);
    await guard(lease.slot, lease.backend.driver.savepoint!(lease.inner, name, compileQuery));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    const lease = this.lease(connection);
    await guard(lease.slot, lease.backend.driver.rollbackToSavepoint!(lease.inner, name, compileQuery));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    const lease = this.lease(connection);
    await guard(lease.slot, lease.backend.driver.releaseSavepoint!(lease.inner, name, compileQuery));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const lease = this.lease(connection);
    this.leases.delete(connection);
    try {
      await lease.backend.driver.releaseConnection(lease.inner);
    } finally {
      lease.slot.leave();
    }
  }

  /** The pools belong to Connectors: a service calling `db.destroy()` must not close them. */
  async destroy(): Promise<void> {
    // Nothing to do: Connectors closes the pools.
  }

  private lease(connection: DatabaseConnection): Lease {
    const lease = this.leases.get(connection);
    if (!lease) throw new Error('connection was not acquired from this driver');
    return lease;
  }
}

/** Query errors stay the driver's own (so `err.code` still reads e.g. 23505), named and scrubbed. */
class ScrubbingConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly slot: Slot,
  ) {}

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { onCall, traceCall } = this.slot;
    if (!onCall && !traceCall) return guard(this.slot, this.inner.executeQuery<R>(compiledQuery));
    const started = onCall ? performance.now() : 0;
    const end = traceCall?.({ operation: sqlOperation(compiledQuery.sql), statement: compiledQuery.sql });
    return guard(this.slot, this.inner.executeQuery<R>(compiledQuery)).then(
      (result) => {
        onCall?.((performance.now() - started) / 1000, true);
        end?.(undefined);
        return result;
      },
      (err: unknown) => {
        onCall?.((performance.now() - started) / 1000, false);
        end?.(err);
        throw err;
      },
    );
  }

  streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(compiledQuery, chunkSize);
  }
}

async function guard<T>(slot: Slot, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof Error && !err.message.startsWith(prefix(slot.info))) {
      scrubError(err, slot.info.secrets);
      err.message = `${prefix(slot.info)}: ${err.message}`;
    }
    throw err;
  }
}

/** A statement's first keyword, upper-cased (SELECT, INSERT, WITH...), for a span's name; `QUERY` when there is none. */
function sqlOperation(sql: string): string {
  const match = /^\s*([A-Za-z]+)/.exec(sql);
  return match ? match[1]!.toUpperCase() : 'QUERY';
}
