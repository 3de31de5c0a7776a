import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // The outgoing connections a service version declares (`connections` in its definition), as a
  // JSON array of names; null for versions deployed before connections existed (none).
  await db.schema.alterTable('service_versions').addColumn('connections', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('service_versions').dropColumn('connections').execute();
}
