import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // The cluster's typed resources other than services (channels, later security definitions,
  // connections, schedules): one row per kind and name, the spec as JSON, tombstones kept for deltas.
  await db.schema
    .createTable('resources')
    .addColumn('cluster_id', 'integer', (col) => col.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('spec', 'text', (col) => col.notNull())
    .addColumn('revision', 'bigint', (col) => col.notNull())
    .addColumn('deleted', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('resources_pk', ['cluster_id', 'kind', 'name'])
    .execute();
  await db.schema.createIndex('resources_by_revision').on('resources').columns(['cluster_id', 'revision']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('resources').execute();
}
