import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // The per-cluster token servers present to join; created on first use.
  await db.schema.alterTable('clusters').addColumn('join_token', 'text').execute();
  // Drain is operator intent: it survives reconnects and control-plane restarts.
  await db.schema.alterTable('servers').addColumn('drained', 'integer', (col) => col.notNull().defaultTo(0)).execute();
  // Timeout, attempts and concurrency declared by the service (JSON), part of the version.
  await db.schema.alterTable('service_versions').addColumn('policy', 'text', (col) => col.notNull().defaultTo('{}')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('service_versions').dropColumn('policy').execute();
  await db.schema.alterTable('servers').dropColumn('drained').execute();
  await db.schema.alterTable('clusters').dropColumn('join_token').execute();
}
