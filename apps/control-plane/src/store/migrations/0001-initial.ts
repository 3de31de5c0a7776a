import { PostgresIntrospector } from 'kysely';
import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- see below */
// Migrations are frozen history: they take Kysely<any> and import nothing from the app, so later
// changes to the schema types cannot alter what an old migration does.

export async function up(db: Kysely<any>): Promise<void> {
  // The introspector is the public way to tell the dialects apart, and it works inside the
  // migrator's transaction.
  const postgres = db.introspection instanceof PostgresIntrospector;

  await db.schema
    .createTable('clusters')
    .addColumn('id', postgres ? 'serial' : 'integer', (col) =>
      // AUTOINCREMENT stops SQLite reusing the id of a deleted cluster.
      postgres ? col.primaryKey() : col.primaryKey().autoIncrement(),
    )
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('revision', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('service_versions')
    .addColumn('cluster_id', 'integer', (col) => col.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('lane', 'text', (col) => col.notNull())
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('code', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('service_versions_pk', ['cluster_id', 'name', 'version'])
    .execute();

  await db.schema
    .createTable('services')
    .addColumn('cluster_id', 'integer', (col) => col.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('lane', 'text', (col) => col.notNull())
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('revision', 'bigint', (col) => col.notNull())
    .addColumn('deleted', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('services_pk', ['cluster_id', 'name'])
    .execute();

  // Deltas ask for "rows of this cluster changed after revision N".
  await db.schema.createIndex('services_cluster_revision_idx').on('services').columns(['cluster_id', 'revision']).execute();

  await db.schema
    .createTable('servers')
    .addColumn('cluster_id', 'integer', (col) => col.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('host', 'text', (col) => col.notNull())
    .addColumn('pid', 'integer', (col) => col.notNull())
    .addColumn('lanes', 'text', (col) => col.notNull())
    .addColumn('applied_revision', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('last_seen', 'text', (col) => col.notNull())
    .addColumn('last_nack', 'text')
    .addPrimaryKeyConstraint('servers_pk', ['cluster_id', 'name'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('servers').execute();
  await db.schema.dropTable('services').execute();
  await db.schema.dropTable('service_versions').execute();
  await db.schema.dropTable('clusters').execute();
}
