import { PostgresIntrospector } from 'kysely';
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // One row per call that changed something or tried to: written in the change's own transaction when
  // it bumps a revision. No request bodies, secrets or tokens.
  const postgres = db.introspection instanceof PostgresIntrospector;
  await db.schema
    .createTable('audit_log')
    .addColumn('id', postgres ? 'bigserial' : 'integer', (col) => (postgres ? col.primaryKey() : col.primaryKey().autoIncrement()))
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('actor', 'text', (col) => col.notNull())
    .addColumn('peer', 'text', (col) => col.notNull())
    .addColumn('rpc', 'text', (col) => col.notNull())
    .addColumn('cluster', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('revision_before', 'bigint', (col) => col.notNull())
    .addColumn('revision_after', 'bigint', (col) => col.notNull())
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('message', 'text', (col) => col.notNull())
    .addColumn('trace_id', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('audit_log_by_cluster').on('audit_log').columns(['cluster', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
}
