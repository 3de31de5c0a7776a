import { sql } from 'kysely';
import type { Logger } from 'pino';
import { FailedPreconditionError } from '../errors';
import type { ClusterStore } from '../store';
import { generateSecretKey, type LoadedKeyring } from './keyring';
import type { ResourceSecrets } from './resource-secrets';
import { SECRET_FIELDS } from './secret-fields';

export interface RotationResult {
  /** The key every stored secret is sealed with now. */
  keyId: string;
  /** How many values were sealed anew. */
  reEncrypted: number;
}

/**
 * `RotateSecretKey`: a new current key (generated into the keyring file, or LANEWAY_SECRET_KEY as it
 * is now), and every secret of every cluster, tombstones included, sealed with it in one transaction.
 * The specs' versions and the revisions stay as they were: what servers get does not change.
 */
export class SecretKeyRotation {
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ClusterStore,
    private readonly secrets: ResourceSecrets,
    private readonly loaded: LoadedKeyring,
    private readonly log: Logger,
  ) {}

  /** One rotation at a time in this process. */
  rotate(): Promise<RotationResult> {
    const next = this.running.then(() => this.rotateNow());
    this.running = next.catch(() => undefined);
    return next;
  }

  private async rotateNow(): Promise<RotationResult> {
    const { keyring, save } = this.loaded;
    const previousKeyId = keyring.current?.id;
    let keyId: string;
    if (save) {
      if (this.store.shared) {
        throw new FailedPreconditionError(
          "this control plane keeps its secret key in its own keyring file, and other control planes may share this PostgreSQL database: set the same LANEWAY_SECRET_KEY on every control plane (the file's keys keep opening old values), restart them, then rotate",
        );
      }
      // On disk before any value sealed with it is committed. Were the transaction to fail, it stays
      // in the file as a key that is not current: harmless, and never a value without its key.
      const added = generateSecretKey();
      keyring.add(added);
      save(keyring);
      keyId = added.id;
    } else {
      keyId = keyring.current!.id;
    }
    if (!this.store.shared) {
      // SQLite keeps a replaced row's bytes in free space and in the WAL: zero freed space, and fold
      // the WAL into the file afterwards, so a value that was in the clear does not linger on disk.
      await sql`pragma secure_delete = ON`.execute(this.store.db);
    }
    const reEncrypted = await this.reencryptAll(keyId);
    if (!this.store.shared) await sql`pragma wal_checkpoint(TRUNCATE)`.execute(this.store.db);
    if (save) {
      keyring.makeCurrent(keyId);
      save(keyring);
    }
    this.log.info({ keyId, previousKeyId, reEncrypted, source: this.loaded.source }, 'secret key rotated');
    return { keyId, reEncrypted };
  }

  private reencryptAll(keyId: string): Promise<number> {
    const kinds = Object.keys(SECRET_FIELDS);
    return this.store.db.transaction().execute(async (trx) => {
      // Every writer of resources locks its cluster first (ClusterStore.lockCluster): taking all of
      // them here means no change slips between this read and its write.
      if (this.store.shared) {
        await trx.selectFrom('clusters').select('id').orderBy('id').forNoKeyUpdate().execute();
      } else {
        await trx.updateTable('clusters').set({ revision: sql<number>`revision` }).execute();
      }
      const rows = await trx
        .selectFrom('resources')
        .innerJoin('clusters', 'clusters.id', 'resources.cluster_id')
        .select(['resources.cluster_id', 'clusters.name as cluster', 'resources.kind', 'resources.name', 'resources.spec'])
        .where('resources.kind', 'in', kinds)
        .execute();
      let count = 0;
      for (const row of rows) {
        const resealed = this.secrets.reseal(row.cluster, row.kind, row.name, JSON.parse(row.spec) as unknown, keyId);
        if (!resealed.count) continue;
        await trx
          .updateTable('resources')
          .set({ spec: JSON.stringify(resealed.spec) })
          .where('cluster_id', '=', row.cluster_id)
          .where('kind', '=', row.kind)
          .where('name', '=', row.name)
          .execute();
        count += resealed.count;
      }
      return count;
    });
  }
}
