import type { Logger } from 'pino';
import type { ClusterStore } from '../store';
import type { ScheduleCatalog } from './schedule-catalog';

// A difference is repaired only if it is still there this much later (see reconcileCluster).
const SETTLE_MS = 1000;
// close() waits this long for a pass under way (one stuck on an unreachable Redis would never end).
const CLOSE_WAIT_MS = 2000;

/**
 * Keeps every cluster's job schedulers in Redis matching its stored schedules: one pass when the
 * control plane starts, then one every `intervalMs`, and one for a cluster as soon as a deploy or a
 * rollback changed its services (a service moved to the other lane takes its schedules with it).
 * Redis keeps nothing on disk, so without this a Redis restart would stop every schedule silently.
 * Several control planes on one database each run their passes; a pass changes only what differs.
 */
export class ScheduleKeeper {
  private timer: NodeJS.Timeout | undefined;
  /** Per cluster: the pass under way, and whether another was asked for while it ran. */
  private readonly passes = new Map<string, { running: Promise<void>; again: boolean }>();
  private closed = false;
  private checkingAll = false;

  constructor(
    private readonly store: ClusterStore,
    private readonly schedules: ScheduleCatalog,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.checkAll(), this.intervalMs);
    this.timer.unref();
    void this.checkAll();
  }

  /** Checks one cluster soon (after a deploy); never throws, a failure is logged and the next pass retries. */
  nudge(cluster: string): void {
    void this.check(cluster);
  }

  /** Checks every cluster, one after the other; skipped while the previous round is still going (Redis unreachable). */
  async checkAll(): Promise<void> {
    if (this.checkingAll) return;
    this.checkingAll = true;
    try {
      const clusters = (await this.store.listClusters()).map((c) => c.name);
      for (const cluster of clusters) await this.check(cluster);
    } catch (err) {
      this.log.warn({ err }, 'could not list the clusters to check their schedules; trying again at the next pass');
    } finally {
      this.checkingAll = false;
    }
  }

  /** One pass over a cluster; a pass asked for while one runs starts when it ends (at most one waits). */
  check(cluster: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    const pass = this.passes.get(cluster);
    if (pass) {
      pass.again = true;
      return pass.running;
    }
    const state = { running: Promise.resolve(), again: false };
    state.running = (async () => {
      do {
        state.again = false;
        try {
          await this.schedules.reconcileCluster(cluster, SETTLE_MS);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, cluster }, 'could not check the job schedulers of the cluster; trying again at the next pass');
        }
      } while (state.again && !this.closed);
      this.passes.delete(cluster);
    })();
    this.passes.set(cluster, state);
    return state.running;
  }

  /** Stops the passes; resolves when the ones under way have ended, or after CLOSE_WAIT_MS. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.passes.values()].map((p) => p.running)), new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }
}
