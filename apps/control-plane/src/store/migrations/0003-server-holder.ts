import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // The control plane (its store's instance id) holding the server's sync stream, null when none does:
  // with several control planes on one database, each sees the servers the others hold.
  await db.schema.alterTable('servers').addColumn('control_plane', 'text').execute();
  // The revision the last NACK rejected, so a deploy waiting through another control plane can tell.
  await db.schema.alterTable('servers').addColumn('last_nack_revision', 'bigint', (col) => col.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('servers').dropColumn('last_nack_revision').execute();
  await db.schema.alterTable('servers').dropColumn('control_plane').execute();
}
