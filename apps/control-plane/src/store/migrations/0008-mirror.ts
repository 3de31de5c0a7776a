import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen history, see 0001 */

export async function up(db: Kysely<any>): Promise<void> {
  // Mirroring between sites. On the cluster row, what every write checks under the cluster's lock:
  // its role ('standalone', 'source', 'follower'), its fencing epoch, the source a follower copies
  // (for the refusal message) and, while a planned switchover hands it over, until when and to whom.
  await db.schema.alterTable('clusters').addColumn('mirror_role', 'text', (col) => col.notNull().defaultTo('standalone')).execute();
  await db.schema.alterTable('clusters').addColumn('epoch', 'bigint', (col) => col.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('clusters').addColumn('mirror_source', 'text', (col) => col.notNull().defaultTo('')).execute();
  await db.schema.alterTable('clusters').addColumn('handover_until', 'text').execute();
  await db.schema.alterTable('clusters').addColumn('handover_to', 'text', (col) => col.notNull().defaultTo('')).execute();
  // The link of a follower to its source (or, on a promoted site, to the source it replaced, until
  // that one has stepped down): the token is sealed with this site's own key.
  await db.schema
    .createTable('mirror_links')
    .addColumn('cluster_id', 'integer', (col) => col.primaryKey().references('clusters.id').onDelete('cascade'))
    .addColumn('source_address', 'text', (col) => col.notNull())
    .addColumn('source_cluster', 'text', (col) => col.notNull())
    .addColumn('token', 'text', (col) => col.notNull())
    .addColumn('ca_pem', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('applied_source_revision', 'bigint', (col) => col.notNull().defaultTo(0))
    // 1 on a promoted site whose old source has not stepped down yet.
    .addColumn('step_down_pending', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('fence_revision', 'bigint', (col) => col.notNull().defaultTo(0))
    // Where the old source reaches this site to follow it.
    .addColumn('advertise_address', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('advertise_ca_pem', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();
  // Mirror tokens a source issued, by SHA-256 (tokens are random and long).
  await db.schema
    .createTable('mirror_tokens')
    .addColumn('token_sha256', 'text', (col) => col.primaryKey())
    .addColumn('cluster_id', 'integer', (col) => col.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  // Followers a source has seen, with the revision each has reached.
  await db.schema
    .createTable('mirror_followers')
    .addColumn('cluster_id', 'integer', (col) => col.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('follower_id', 'text', (col) => col.notNull())
    .addColumn('follower_cluster', 'text', (col) => col.notNull())
    .addColumn('applied_revision', 'bigint', (col) => col.notNull())
    .addColumn('last_seen', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('mirror_followers_pk', ['cluster_id', 'follower_id'])
    .execute();
  // What a site committed after a forced failover split it off, dropped when it stepped down.
  await db.schema
    .createTable('mirror_discarded')
    .addColumn('cluster_id', 'integer', (col) => col.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('revision', 'bigint', (col) => col.notNull())
    .addColumn('epoch', 'bigint', (col) => col.notNull())
    .addColumn('discarded_at', 'text', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mirror_discarded').execute();
  await db.schema.dropTable('mirror_followers').execute();
  await db.schema.dropTable('mirror_tokens').execute();
  await db.schema.dropTable('mirror_links').execute();
  for (const column of ['handover_to', 'handover_until', 'mirror_source', 'epoch', 'mirror_role']) {
    await db.schema.alterTable('clusters').dropColumn(column).execute();
  }
}
