import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // Where each server answers its channels (HOST:PORT from its hello), so that operators and load
  // balancer configurations can find it; '' for a server without a channel listener.
  await db.schema
    .alterTable('servers')
    .addColumn('http_address', 'text', (col) => col.notNull().defaultTo(''))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('servers').dropColumn('http_address').execute();
}
