import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterStore } from '../store';

/** An embedded (SQLite) store for a test, in a directory of its own. */
export interface TempStore {
  readonly store: ClusterStore;
  /** Closes the store and removes its directory. */
  close(): Promise<void>;
}

/** Opens an embedded store in a new temporary directory named after `name` (laneway-NAME-XXXXXX). */
export async function openTempStore(name: string): Promise<TempStore> {
  const dataDir = mkdtempSync(join(tmpdir(), `laneway-${name}-`));
  try {
    const store = await ClusterStore.open({ dataDir });
    return {
      store,
      close: async () => {
        try {
          await store.close();
        } finally {
          rmSync(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
