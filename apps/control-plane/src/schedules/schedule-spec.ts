import { ScheduleOverlap, ScheduleRunOutcome, type Schedule, type ScheduleRun, type ScheduleSpec } from '@laneway/proto';
import type { ScheduleRunRecord, ScheduleTiming } from '@laneway/lanes';
import { getNextMillis } from 'bullmq';
import { InvalidArgumentError, shownValue } from '../errors';
import type { ResourceReader, ResourceRecord } from '../store';

/** A schedule as stored and pushed (the `schedule` resource kind): the wire's ScheduleSpec, normalised. */
export type ScheduleSpecRecord = ScheduleSpec;

/** What a create or update request carries, before checks. */
export interface ScheduleInput {
  name: string;
  service: string;
  inputJson: string;
  intervalMs: number;
  cron: string;
  timezone: string;
  overlap: ScheduleOverlap;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const MIN_INTERVAL_MS = 1000;

/**
 * Checks the fields that need no look-up and returns the spec to store (overlap SKIP when unset,
 * the input as given). Every refusal names the field and its value.
 */
export function scheduleSpecOf(input: ScheduleInput, paused = false): ScheduleSpecRecord {
  if (!NAME.test(input.name)) {
    throw new InvalidArgumentError('name', `schedule name ${shownValue(input.name)} is invalid: use 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit`);
  }
  if (!input.service) throw new InvalidArgumentError('service', 'service is empty: name the deployed service this schedule invokes');
  if (input.inputJson) {
    try {
      JSON.parse(input.inputJson);
    } catch (err) {
      throw new InvalidArgumentError('input_json', `input_json is not JSON (${(err as Error).message}): give e.g. '{"day":"monday"}', or nothing for null`);
    }
  }
  if (input.intervalMs && input.cron) {
    throw new InvalidArgumentError('cron', `give interval_ms or cron, not both (interval_ms ${input.intervalMs}, cron ${shownValue(input.cron)})`);
  }
  if (!input.intervalMs && !input.cron) throw new InvalidArgumentError('interval_ms', 'give interval_ms (e.g. 30000) or cron (e.g. "0 * * * *")');
  if (input.intervalMs) {
    if (input.intervalMs < MIN_INTERVAL_MS) {
      throw new InvalidArgumentError('interval_ms', `interval_ms ${input.intervalMs} is below ${MIN_INTERVAL_MS}: schedules tick at most once a second`);
    }
    if (input.timezone) {
      throw new InvalidArgumentError('timezone', `timezone ${shownValue(input.timezone)} applies to cron only: an interval is the same in every time zone`);
    }
  } else {
    checkCron(input.cron, input.timezone);
  }
  const overlap = input.overlap === ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW ? ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW : ScheduleOverlap.SCHEDULE_OVERLAP_SKIP;
  if (input.overlap !== ScheduleOverlap.SCHEDULE_OVERLAP_UNSPECIFIED && input.overlap !== overlap) {
    throw new InvalidArgumentError('overlap', `overlap ${String(input.overlap)} is not SKIP or ALLOW`);
  }
  return {
    service: input.service,
    inputJson: input.inputJson,
    intervalMs: input.intervalMs,
    cron: input.cron,
    timezone: input.timezone,
    overlap,
    paused,
  };
}

function checkCron(cron: string, timezone: string): void {
  if (timezone) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      throw new InvalidArgumentError('timezone', `timezone ${shownValue(timezone)} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`);
    }
  }
  let next: number | undefined;
  try {
    next = getNextMillis(Date.now(), { pattern: cron, tz: timezone || 'UTC' });
  } catch (err) {
    throw new InvalidArgumentError('cron', `cron ${shownValue(cron)} is not a cron expression (${(err as Error).message}): use five fields, minute hour day month weekday (e.g. "0 * * * *"), or six with seconds first`);
  }
  if (next === undefined) throw new InvalidArgumentError('cron', `cron ${shownValue(cron)} never fires`);
}

/** Refuses an active schedule naming a service that is not deployed (pausing one whose service went away works). */
export async function checkScheduleService(name: string, spec: ScheduleSpecRecord, cluster: string, reader: ResourceReader): Promise<void> {
  if (!spec.paused && !(await reader.serviceExists(spec.service))) {
    throw new InvalidArgumentError('service', `service '${spec.service}' of schedule '${name}' is not deployed in cluster '${cluster}': deploy it first (see ListServices)`);
  }
}

/** When the schedule ticks, as BullMQ takes it. */
export function timingOf(spec: ScheduleSpecRecord): ScheduleTiming {
  return spec.intervalMs ? { everyMs: spec.intervalMs } : { cron: spec.cron, timezone: spec.timezone };
}

export function overlapOf(spec: ScheduleSpecRecord): 'skip' | 'allow' {
  return spec.overlap === ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW ? 'allow' : 'skip';
}

/** The input every run gets. */
export function inputOf(spec: ScheduleSpecRecord): unknown {
  return spec.inputJson ? JSON.parse(spec.inputJson) : null;
}

export function scheduleOf(record: ResourceRecord<ScheduleSpecRecord>, next: number | undefined): Schedule {
  return {
    name: record.name,
    spec: record.spec,
    revision: record.revision,
    updatedAt: record.updatedAt,
    nextRunAt: next !== undefined && !record.spec.paused ? new Date(next).toISOString() : '',
  };
}

const OUTCOMES: Record<ScheduleRunRecord['outcome'], ScheduleRunOutcome> = {
  ok: ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK,
  failed: ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_FAILED,
  skipped: ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_SKIPPED,
};

export function scheduleRunOf(run: ScheduleRunRecord): ScheduleRun {
  return {
    jobId: run.jobId,
    scheduledAt: new Date(run.scheduledAt).toISOString(),
    startedAt: new Date(run.startedAt).toISOString(),
    server: run.server,
    outcome: OUTCOMES[run.outcome] ?? ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_UNSPECIFIED,
    durationMs: run.durationMs,
    attempt: run.attempt,
    error: run.error ?? '',
    manual: run.manual ?? false,
  };
}
