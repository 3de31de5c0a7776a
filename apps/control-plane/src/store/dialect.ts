import { PostgresIntrospector, sql } from 'kysely';
import type { Kysely, Transaction, TransactionBuilder } from 'kysely';
import { CHANGE_CHANNEL, type ChangeNotice } from './change-feed';
import type { Database } from './schema';

/**
 * What the store does differently on PostgreSQL and on SQLite, chosen once when the store opens. Every
 * other statement (upserts with ON CONFLICT, RETURNING, int8 read as number or string) is written once
 * for both.
 */
export interface StoreDialect {
  /** Other control planes may use this database (PostgreSQL); the embedded SQLite store is one process's. */
  readonly shared: boolean;
  /** Session settings the store relies on, run once before migrating. */
  prepare(db: Kysely<Database>): Promise<void>;
  /**
   * Reads the cluster row and holds it until the transaction ends, so writers to one cluster take turns
   * and each sees the revision the previous one committed. Undefined when there is no such cluster.
   */
  lockClusterRow(trx: Transaction<Database>, name: string): Promise<LockedClusterRow | undefined>;
  /** Tells the other control planes sharing the database of a change, on commit (never on rollback). */
  notify(trx: Transaction<Database>, notice: ChangeNotice): Promise<void>;
  /** A transaction whose statements all read one snapshot (the revision and the rows it describes). */
  snapshotTransaction(db: Kysely<Database>): TransactionBuilder<Database>;
}

/** The cluster row as a writer locks it: the revision, and what the write fence checks (mirroring). */
export interface LockedClusterRow {
  id: number;
  revision: number | string;
  mirror_role: string;
  mirror_source: string;
  handover_until: string | null;
  handover_to: string;
}

const LOCKED_COLUMNS = ['id', 'revision', 'mirror_role', 'mirror_source', 'handover_until', 'handover_to'] as const;

export const postgresDialect: StoreDialect = {
  shared: true,
  async prepare() {
    // Foreign keys are always enforced.
  },
  lockClusterRow(trx, name) {
    // NO KEY UPDATE is the lock the later revision update takes anyway; unlike FOR UPDATE it does not
    // block foreign-key checks, so server hellos for this cluster are not held up by a deploy.
    return trx.selectFrom('clusters').select(LOCKED_COLUMNS).where('name', '=', name).forNoKeyUpdate().executeTakeFirst();
  },
  async notify(trx, notice) {
    await sql`select pg_notify(${CHANGE_CHANNEL}, ${JSON.stringify(notice)})`.execute(trx);
  },
  snapshotTransaction(db) {
    // READ COMMITTED, the default, gives each statement its own snapshot.
    return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only');
  },
};

export const sqliteDialect: StoreDialect = {
  shared: false,
  async prepare(db) {
    // Cascading deletes depend on this, and a caller-built SQLite Kysely may not have set it. Kysely's
    // SQLite dialect keeps one connection, so setting it once holds for the store's lifetime.
    await sql`pragma foreign_keys = ON`.execute(db);
  },
  lockClusterRow(trx, name) {
    // SQLite has no row locks. Within a process Kysely's single connection already serialises
    // transactions; writing first takes the database write lock up front (waiting out busy_timeout),
    // where a read-then-write transaction would fail with SQLITE_BUSY if another process wrote between.
    return trx
      .updateTable('clusters')
      .set({ revision: sql<number>`revision` })
      .where('name', '=', name)
      .returning(LOCKED_COLUMNS)
      .executeTakeFirst();
  },
  async notify() {
    // One process's file: nobody else to tell.
  },
  snapshotTransaction(db) {
    // A SQLite transaction reads one snapshot already.
    return db.transaction();
  },
};

/** The dialect of a Kysely instance, by its introspector (PostgreSQL's, else SQLite). */
export function dialectOf(db: Kysely<Database>): StoreDialect {
  return db.introspection instanceof PostgresIntrospector ? postgresDialect : sqliteDialect;
}
