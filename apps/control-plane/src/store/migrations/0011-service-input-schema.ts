import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // The JSON Schema of a version's input (JSON text) when its `input` is a Standard Schema that gives one;
  // '' otherwise, and for versions deployed before this migration. The web admin's invoke form is made from it.
  await db.schema
    .alterTable('service_versions')
    .addColumn('input_schema', 'text', (col) => col.notNull().defaultTo(''))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('service_versions').dropColumn('input_schema').execute();
}
