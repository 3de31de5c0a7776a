import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // The other deployed files a service version's module set holds (helpers, bundled npm packages), as
  // a JSON object of path -> source text, so an export can write them back; null when it imports none.
  await db.schema.alterTable('service_versions').addColumn('sources', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('service_versions').dropColumn('sources').execute();
}
