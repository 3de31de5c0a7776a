import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStore } from '../store';
import { openTempStore, type TempStore } from '../testing/temp-store';
import { AppliedWrites } from './applied-writes';

describe('AppliedWrites over a real store', () => {
  let temp: TempStore;
  let store: ClusterStore;

  beforeAll(async () => {
    temp = await openTempStore('applied-writes');
    store = temp.store;
  });

  afterAll(async () => {
    await temp?.close();
  });

  it('stores a fleet of ACKs in a few writes, and fails only the ACK of a server the store does not know', async () => {
    await store.createCluster('acks');
    const names = Array.from({ length: 1200 }, (_, i) => `s${i}`);
    for (const name of names) await store.recordServerHello('acks', { name, host: 'h', pid: 1, lanes: ['network'], appliedRevision: 0, httpAddress: '' });
    let batchWrites = 0;
    const counted: Pick<ClusterStore, 'recordServersApplied' | 'recordServerApplied'> = {
      recordServersApplied: (cluster, servers, revision) => {
        batchWrites++;
        return store.recordServersApplied(cluster, servers, revision);
      },
      recordServerApplied: (...args) => store.recordServerApplied(...args),
    };
    const writes = new AppliedWrites(counted);

    const results = await Promise.allSettled([...names.map((name) => writes.record('acks', name, 7)), writes.record('acks', 'never-said-hello', 7)]);

    expect(results.slice(0, -1).every((r) => r.status === 'fulfilled')).toBe(true);
    const refused = results.at(-1)!;
    expect(refused.status).toBe('rejected');
    expect(String((refused as PromiseRejectedResult).reason)).toContain("server 'never-said-hello' has not said hello to cluster 'acks'");
    expect(batchWrites).toBe(1);
    const rows = await store.listServers('acks');
    expect(rows.filter((r) => r.appliedRevision === 7)).toHaveLength(names.length);
  });
});
