import type { ClusterStore } from '../store';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Stores servers' ACKs in batches: the ACKs that arrive while one write runs go out together in the
 * next, one statement per cluster and revision. A thousand servers ACKing one push cost a handful of
 * writes, not a thousand, and each ACK still resolves only once its row is written.
 */
export class AppliedWrites {
  /** Pending ACKs by cluster, revision, then server. */
  private pending = new Map<string, Map<number, Map<string, Waiter[]>>>();
  private running = false;

  constructor(private readonly store: Pick<ClusterStore, 'recordServersApplied' | 'recordServerApplied'>) {}

  /** Resolves once `server`'s ACK of `revision` is stored; rejects as recordServerApplied would. */
  record(cluster: string, server: string, revision: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let byRevision = this.pending.get(cluster);
      if (!byRevision) this.pending.set(cluster, (byRevision = new Map()));
      let byServer = byRevision.get(revision);
      if (!byServer) byRevision.set(revision, (byServer = new Map()));
      const waiters = byServer.get(server) ?? [];
      waiters.push({ resolve, reject });
      byServer.set(server, waiters);
      if (!this.running) {
        this.running = true;
        // The ACKs of one turn of the event loop join this batch.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      for (const [cluster, byRevision] of batch) {
        for (const [revision, byServer] of byRevision) await this.write(cluster, revision, byServer);
      }
    }
    this.running = false;
  }

  private async write(cluster: string, revision: number, byServer: Map<string, Waiter[]>): Promise<void> {
    const servers = [...byServer.keys()];
    try {
      const updated = await this.store.recordServersApplied(cluster, servers, revision);
      if (updated === servers.length) {
        for (const waiters of byServer.values()) for (const w of waiters) w.resolve();
        return;
      }
    } catch {
      // Told apart below, one server at a time, so each ACK gets its own outcome.
    }
    // A server without a row (removed meanwhile) or a failed write: each on its own, with its own error.
    for (const [server, waiters] of byServer) {
      try {
        await this.store.recordServerApplied(cluster, server, revision, null);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
  }
}
