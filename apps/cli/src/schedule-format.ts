import { ScheduleOverlap, ScheduleRunOutcome, type ListScheduleRunsResponse, type ListSchedulesResponse, type Schedule, type ScheduleChangeResponse, type ScheduleSpec } from '@laneway/proto';
import { formatServerResults, formatTable } from './format';

/** `every 30s`, or `cron '0 * * * *' Europe/Berlin`. */
export function scheduleTiming(spec: ScheduleSpec | undefined): string {
  if (!spec) return '';
  if (spec.intervalMs) return `every ${duration(spec.intervalMs)}`;
  return `cron '${spec.cron}' ${spec.timezone || 'UTC'}`;
}

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const overlapName = (overlap: ScheduleOverlap | undefined): string => (overlap === ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW ? 'allow' : 'skip');

export function formatSchedules(response: ListSchedulesResponse, cluster: string): string {
  if (!response.schedules.length) return `no schedules in cluster '${cluster}'`;
  const rows = [['NAME', 'SERVICE', 'WHEN', 'OVERLAP', 'STATE', 'NEXT RUN']];
  for (const s of response.schedules) {
    rows.push([s.name, s.spec?.service ?? '', scheduleTiming(s.spec), overlapName(s.spec?.overlap), s.spec?.paused ? 'paused' : 'active', s.nextRunAt || '-']);
  }
  return formatTable(rows);
}

export function formatSchedule(schedule: Schedule): string {
  const spec = schedule.spec;
  return formatTable([
    ['name', schedule.name],
    ['service', spec?.service ?? ''],
    ['when', scheduleTiming(spec)],
    ['input', spec?.inputJson || 'null'],
    ['overlap', overlapName(spec?.overlap)],
    ['state', spec?.paused ? 'paused' : 'active'],
    ['next run', schedule.nextRunAt || '-'],
    ['revision', String(schedule.revision)],
    ['updated', schedule.updatedAt],
  ]);
}

export function formatScheduleChange(verb: string, name: string, response: ScheduleChangeResponse, options: { waited: boolean }): string {
  const next = response.schedule?.nextRunAt ? `, next run ${response.schedule.nextRunAt}` : '';
  return `schedule '${name}' ${verb} (revision ${response.revision}${next})\n${formatServerResults(response.servers, options.waited)}`.trimEnd();
}

const OUTCOMES: Partial<Record<ScheduleRunOutcome, string>> = {
  [ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK]: 'ok',
  [ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_FAILED]: 'failed',
  [ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_SKIPPED]: 'skipped',
};

export function formatScheduleRuns(response: ListScheduleRunsResponse, name: string): string {
  if (!response.runs.length) return `schedule '${name}' has no recorded runs`;
  const rows = [['DUE', 'STARTED', 'SERVER', 'OUTCOME', 'DURATION', 'ATTEMPT', 'JOB', 'ERROR']];
  for (const r of response.runs) {
    rows.push([r.manual ? 'now (manual)' : r.scheduledAt, r.startedAt, r.server || '-', OUTCOMES[r.outcome] ?? 'unknown', `${r.durationMs}ms`, String(r.attempt), r.jobId, r.error]);
  }
  return formatTable(rows);
}
