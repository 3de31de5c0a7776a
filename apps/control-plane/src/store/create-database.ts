import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent the store uses SQLite under dataDir. */
  databaseUrl?: string;
  dataDir: string;
}

export function createDatabase(opts: DatabaseOptions): Kysely<Database> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle client that loses its connection emits 'error' on the pool, which would crash the
    // process if unhandled. The pool already drops that client, and the next query reports the outage.
    pool.on('error', () => undefined);
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }

  mkdirSync(opts.dataDir, { recursive: true });
  const sqlite = new SqliteDatabase(join(opts.dataDir, 'laneway.db'));
  // WAL lets readers run beside the writer; foreign keys are off by default in SQLite and the cascades
  // depend on them; busy_timeout makes a second process wait for the write lock instead of failing.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}
