import { schedulerMatches, type ScheduledInvocation, type ScheduleQueues, type ScheduleRunRecord, type ScheduleTiming } from '@laneway/lanes';
import type { Logger } from 'pino';
import { FailedPreconditionError, UnavailableError } from '../errors';
import { ResourceCatalog, type ResourceChange, type ResourceWait } from '../resources/resource-catalog';
import type { ClusterStore, ResourceRecord, ServiceRecord } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { checkScheduleService, inputOf, overlapOf, scheduleSpecOf, timingOf, type ScheduleInput, type ScheduleSpecRecord } from './schedule-spec';

/** A job scheduler to set (missing or different), or to remove (a paused schedule's, or a deleted one's leftover). */
type SchedulerRepair =
  | { kind: 'set'; name: string; timing: ScheduleTiming; invocation: ScheduledInvocation }
  | { kind: 'paused' | 'leftover'; name: string };

/**
 * The cluster's schedules: the `schedule` kind on the common resource machinery (revision, push,
 * export), plus one BullMQ job scheduler per active schedule on its service's lane queue. The spec is
 * stored first, then the job scheduler is made to match it; a call that failed half-way is repaired by
 * making it again (the same spec changes no revision and sets the job scheduler again).
 */
export class ScheduleCatalog {
  private readonly resources: ResourceCatalog<ScheduleSpecRecord>;
  /** Clusters whose schedules a planned switchover is resuming (see hold), with how many holds. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly store: ClusterStore,
    hub: SyncHub,
    private readonly queues: ScheduleQueues,
    private readonly log: Logger,
  ) {
    this.resources = new ResourceCatalog<ScheduleSpecRecord>('schedule', store, hub, log, { checkPut: checkScheduleService });
  }

  async create(cluster: string, input: ScheduleInput, wait: ResourceWait): Promise<ResourceChange<ScheduleSpecRecord>> {
    const change = await this.resources.put(cluster, input.name, scheduleSpecOf(input), 'create', wait);
    await this.apply(cluster, input.name, change.record);
    return change;
  }

  /** Replaces every field; a paused schedule stays paused. */
  async update(cluster: string, input: ScheduleInput, wait: ResourceWait): Promise<ResourceChange<ScheduleSpecRecord>> {
    const previous = await this.resources.describe(cluster, input.name);
    const change = await this.resources.put(cluster, input.name, scheduleSpecOf(input, previous.spec.paused), 'update', wait);
    await this.apply(cluster, input.name, change.record);
    return change;
  }

  async setPaused(cluster: string, name: string, paused: boolean, wait: ResourceWait): Promise<ResourceChange<ScheduleSpecRecord>> {
    const previous = await this.resources.describe(cluster, name);
    const change = await this.resources.put(cluster, name, { ...previous.spec, paused }, 'update', wait);
    await this.apply(cluster, name, change.record);
    return change;
  }

  async delete(cluster: string, name: string, wait: ResourceWait): Promise<ResourceChange<ScheduleSpecRecord>> {
    const change = await this.resources.delete(cluster, name, wait);
    await this.forget(cluster, name);
    return change;
  }

  /**
   * Makes Redis hold the job schedulers the cluster's stored schedules call for, and no others:
   * one for each active schedule, on its service's lane queue as the service is deployed now, with
   * its timing, input and the service's attempts. Repairs what Redis lost (it keeps nothing on disk),
   * a service redeployed on the other lane, a call that stopped half-way, and a deleted schedule's
   * leftover. Touches nothing that already matches (an interval schedule keeps its next tick). A
   * schedule whose service is no longer deployed is reported in `failed` and left as it is.
   *
   * With `settleMs`, a difference is acted on only if it is still there that much later: a
   * create, pause or delete under way stores its spec and then sets its job scheduler, and a pass
   * in between must not set it a second time (which would move an interval schedule's first tick).
   */
  async reconcileCluster(cluster: string, settleMs = 0): Promise<{ repaired: string[]; removed: string[]; failed: string[] }> {
    let found = await this.differences(cluster);
    if (settleMs > 0 && found.repairs.length) {
      const first = new Set(found.repairs.map((r) => `${r.name}\u0000${r.kind}`));
      await new Promise((r) => setTimeout(r, settleMs));
      found = await this.differences(cluster);
      found.repairs = found.repairs.filter((r) => first.has(`${r.name}\u0000${r.kind}`));
    }
    // Held for a switchover's resume (see hold): checked after the differences were read, so a pass
    // that saw the cluster writable (promoted, hence held) acts on nothing.
    if (this.held.has(cluster)) return { repaired: [], removed: [], failed: found.failed };
    const repaired: string[] = [];
    const removed: string[] = [];
    for (const repair of found.repairs) {
      const { name } = repair;
      if (repair.kind === 'set') {
        await this.bullmq('set the job scheduler of', cluster, name, () => this.queues.upsert(cluster, name, repair.timing, repair.invocation));
        repaired.push(name);
      } else {
        await this.bullmq('remove the job scheduler of', cluster, name, () => this.queues.remove(cluster, name));
        (repair.kind === 'leftover' ? removed : repaired).push(name);
      }
    }
    if (repaired.length || removed.length) this.log.info({ cluster, repaired, removed }, 'job schedulers repaired to match the stored schedules');
    return { repaired, removed, failed: found.failed };
  }

  /** What reconcileCluster would change now. */
  private async differences(cluster: string): Promise<{ repairs: SchedulerRepair[]; failed: string[] }> {
    // Redis first, the store second: a schedule created in between is in the store (and checked
    // below) even if its job scheduler was not listed, so it is never taken for a leftover.
    const present = await this.bullmq('list the job schedulers of', cluster, '*', () => this.queues.scheduled(cluster));
    const { resources } = await this.resources.list(cluster);
    // Schedules fire only where the cluster is writable: a follower (or a source handing over) keeps
    // them stored, and armed on the other site, so a tick never fires on both.
    if (!(await this.store.isWritable(cluster))) {
      return { repairs: [...present.keys()].map((name) => ({ kind: 'paused' as const, name })), failed: [] };
    }
    const services = new Map((await this.store.listServices(cluster)).services.map((s) => [s.name, s]));
    const repairs: SchedulerRepair[] = [];
    const failed: string[] = [];
    for (const { name, spec } of resources) {
      if (spec.paused) {
        if (present.has(name)) repairs.push({ kind: 'paused', name });
        continue;
      }
      let invocation: ScheduledInvocation;
      try {
        invocation = invocationOf(cluster, name, spec, services.get(spec.service));
      } catch (err) {
        if (!(err instanceof FailedPreconditionError)) throw err;
        failed.push(name);
        this.log.warn({ cluster, schedule: name, service: spec.service }, err.message);
        continue;
      }
      const timing = timingOf(spec);
      if (!schedulerMatches(present.get(name), name, timing, invocation)) repairs.push({ kind: 'set', name, timing, invocation });
    }
    const stored = new Set(resources.map((r) => r.name));
    for (const name of present.keys()) if (!stored.has(name)) repairs.push({ kind: 'leftover', name });
    return { repairs, failed };
  }

  /**
   * Planned switchover, on the source (writes already refused): removes every active schedule's job
   * scheduler and answers, per schedule, the first tick this site will not run, so the new source
   * continues the same ticks. A pending tick the removal took away (still delayed) is the first; a
   * tick already queued runs here, and then an interval schedule's next one is one interval on, while
   * a cron schedule has no cursor (the new source arms it afresh).
   */
  async handOver(cluster: string): Promise<{ name: string; nextDueMs: number }[]> {
    const { resources } = await this.resources.list(cluster);
    const out: { name: string; nextDueMs: number }[] = [];
    for (const { name, spec } of resources) {
      if (spec.paused) continue;
      const { next, nextRunsHere } = await this.bullmq('remove the job scheduler of', cluster, name, () => this.queues.stopForHandOver(cluster, name));
      const removedAt = Date.now();
      if (next === undefined) continue;
      // A pending tick the removal took with it (still delayed, even if past due) is the new source's.
      if (next > removedAt || !nextRunsHere) out.push({ name, nextDueMs: next });
      else if (spec.intervalMs) out.push({ name, nextDueMs: next + Math.ceil((removedAt - next + 1) / spec.intervalMs) * spec.intervalMs });
    }
    // Anything else (leftovers) goes the usual way: a handing-over source arms nothing.
    await this.reconcileCluster(cluster);
    return out;
  }

  /**
   * Planned switchover, on the new source: until the release is called, reconcileCluster leaves the
   * cluster's job schedulers alone, so that the periodic check cannot arm them afresh between the
   * promotion and {@link resume}. Holds nest (a count per cluster); releasing twice is harmless.
   */
  hold(cluster: string): () => void {
    this.held.set(cluster, (this.held.get(cluster) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(cluster) ?? 1) - 1;
      if (left > 0) this.held.set(cluster, left);
      else this.held.delete(cluster);
    };
  }

  /**
   * Planned switchover, on the new source: arms each active schedule from where the old source left
   * it. Each tick that fell due during the handover runs once now, recorded with its due time (at most
   * ten per schedule); an interval schedule keeps its phase. Schedules without a cursor are armed as new.
   */
  async resume(cluster: string, cursors: readonly { name: string; nextDueMs: number }[]): Promise<void> {
    const byName = new Map(cursors.map((c) => [c.name, c.nextDueMs]));
    const { resources } = await this.resources.list(cluster);
    const services = new Map((await this.store.listServices(cluster)).services.map((s) => [s.name, s]));
    for (const { name, spec } of resources) {
      if (spec.paused) continue;
      let invocation: ScheduledInvocation;
      try {
        invocation = invocationOf(cluster, name, spec, services.get(spec.service));
      } catch (err) {
        this.log.warn({ cluster, schedule: name, err: (err as Error).message }, 'schedule not armed after the switchover');
        continue;
      }
      const timing = timingOf(spec);
      let due = byName.get(name);
      const now = Date.now();
      const ran: string[] = [];
      while (due !== undefined && due <= now && ran.length < 10) {
        const tick = due;
        await this.bullmq('queue a handed-over tick of', cluster, name, () => this.queues.runTick(cluster, name, invocation, tick));
        ran.push(new Date(tick).toISOString());
        due = 'everyMs' in timing ? due + timing.everyMs : undefined;
      }
      if (ran.length) this.log.info({ cluster, schedule: name, ticks: ran }, 'ran the ticks that fell due during the switchover');
      let firstTickAt: number | undefined;
      if (due !== undefined && 'everyMs' in timing) firstTickAt = due > now ? due : due + Math.ceil((now - due + 1) / timing.everyMs) * timing.everyMs;
      await this.bullmq('set the job scheduler of', cluster, name, () => this.queues.upsert(cluster, name, timing, invocation, firstTickAt));
    }
  }

  /** Removes the job scheduler and the run list of a deleted schedule. */
  async forget(cluster: string, name: string): Promise<void> {
    await this.bullmq('remove the job scheduler of', cluster, name, async () => {
      await this.queues.remove(cluster, name);
      await this.queues.clearRuns(cluster, name);
    });
  }

  describe(cluster: string, name: string): Promise<ResourceRecord<ScheduleSpecRecord>> {
    return this.resources.describe(cluster, name);
  }

  list(cluster: string): Promise<{ revision: number; resources: ResourceRecord<ScheduleSpecRecord>[] }> {
    return this.resources.list(cluster);
  }

  /** Epoch ms of the schedule's next tick; undefined while paused. */
  next(cluster: string, name: string): Promise<number | undefined> {
    return this.bullmq('read the next tick of', cluster, name, () => this.queues.next(cluster, name));
  }

  async runNow(cluster: string, name: string): Promise<string> {
    const record = await this.resources.describe(cluster, name);
    const invocation = await this.invocation(cluster, name, record.spec);
    return this.bullmq('queue a run of', cluster, name, () => this.queues.runNow(cluster, name, invocation));
  }

  async runs(cluster: string, name: string, limit: number): Promise<ScheduleRunRecord[]> {
    await this.resources.describe(cluster, name);
    return this.bullmq('read the runs of', cluster, name, () => this.queues.runs(cluster, name, limit));
  }

  /** Makes the schedule's job scheduler match its stored spec. */
  private async apply(cluster: string, name: string, record: Pick<ResourceRecord<ScheduleSpecRecord>, 'spec'> | undefined): Promise<void> {
    if (!record) return;
    const spec = record.spec;
    if (spec.paused) {
      await this.bullmq('remove the job scheduler of', cluster, name, () => this.queues.remove(cluster, name));
      return;
    }
    const invocation = await this.invocation(cluster, name, spec);
    await this.bullmq('set the job scheduler of', cluster, name, () => this.queues.upsert(cluster, name, timingOf(spec), invocation));
    this.log.info({ cluster, schedule: name, service: spec.service, lane: invocation.lane, intervalMs: spec.intervalMs, cron: spec.cron, timezone: spec.timezone }, 'schedule set');
  }

  private async invocation(cluster: string, name: string, spec: ScheduleSpecRecord): Promise<ScheduledInvocation> {
    return invocationOf(cluster, name, spec, await this.store.getService(cluster, spec.service));
  }

  private async bullmq<T>(what: string, cluster: string, name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new UnavailableError(`could not ${what} schedule '${name}' in Redis (${(err as Error).message}): make the call again once Redis is reachable`, { cluster, schedule: name }, { cause: err });
    }
  }
}

/** What each run of a schedule invokes, with its service as deployed now; FAILED_PRECONDITION when it is not. */
function invocationOf(cluster: string, name: string, spec: ScheduleSpecRecord, service: ServiceRecord | undefined): ScheduledInvocation {
  if (!service) {
    throw new FailedPreconditionError(`service '${spec.service}' of schedule '${name}' is no longer deployed in cluster '${cluster}': deploy it again, or point the schedule at another service`, {
      schedule: name,
      service: spec.service,
    });
  }
  return { service: spec.service, lane: service.lane, input: inputOf(spec), overlap: overlapOf(spec), attempts: service.policy.attempts };
}
