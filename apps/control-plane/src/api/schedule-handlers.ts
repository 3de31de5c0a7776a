import type { Metadata } from '@grpc/grpc-js';
import type { ScheduleServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ResourceChange } from '../resources/resource-catalog';
import type { ScheduleCatalog } from '../schedules/schedule-catalog';
import { scheduleOf, scheduleRunOf, type ScheduleInput, type ScheduleSpecRecord } from '../schedules/schedule-spec';
import { SCHEDULE_RUNS_KEPT } from '@laneway/lanes';
import { unary } from './grpc-errors';
import type { RequestChecks } from '../checks/request-checks';

const DEFAULT_RUNS = 100;

/** ScheduleService: the wire side of {@link ScheduleCatalog}. */
export function scheduleHandlers(
  catalog: ScheduleCatalog,
  check: RequestChecks,
  log: Logger,
  admin: (metadata: Metadata, method: string) => Promise<void>,
): ScheduleServiceServer {
  const cluster = (req: { cluster: string }) => check.name('cluster', req.cluster);
  const name = (req: { name: string }) => check.name('name', req.name, 'give the name of a schedule (see ListSchedules)');
  const wait = (req: { waitFor: number; waitTimeoutMs: number }) => ({ waitFor: req.waitFor, timeoutMs: check.timeoutMs('wait_timeout_ms', req.waitTimeoutMs) });
  const input = (req: { name: string; service: string; inputJson: string; intervalMs: number; cron: string; timezone: string; overlap: number }): ScheduleInput => ({
    name: name(req),
    service: check.name('service', req.service, 'name the deployed service this schedule invokes'),
    inputJson: check.inputJson('input_json', req.inputJson),
    intervalMs: req.intervalMs,
    cron: check.optionalName('cron', req.cron),
    timezone: check.optionalName('timezone', req.timezone),
    overlap: req.overlap,
  });
  const toChange = async (c: string, change: ResourceChange<ScheduleSpecRecord>) => ({
    revision: change.revision,
    schedule: change.record && scheduleOf(change.record, await catalog.next(c, change.record.name)),
    servers: change.servers,
  });
  return {
    createSchedule: unary('CreateSchedule', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.create(c, input(req), wait(req)));
    }),
    updateSchedule: unary('UpdateSchedule', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.update(c, input(req), wait(req)));
    }),
    getSchedule: unary('GetSchedule', log, admin, async (req) => {
      const c = cluster(req);
      const record = await catalog.describe(c, name(req));
      return scheduleOf(record, await catalog.next(c, record.name));
    }),
    listSchedules: unary('ListSchedules', log, admin, async (req) => {
      const c = cluster(req);
      const listed = await catalog.list(c);
      const schedules = await Promise.all(listed.resources.map(async (r) => scheduleOf(r, await catalog.next(c, r.name))));
      return { revision: listed.revision, schedules };
    }),
    deleteSchedule: unary('DeleteSchedule', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.delete(c, name(req), wait(req)));
    }),
    pauseSchedule: unary('PauseSchedule', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.setPaused(c, name(req), true, wait(req)));
    }),
    resumeSchedule: unary('ResumeSchedule', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.setPaused(c, name(req), false, wait(req)));
    }),
    runScheduleNow: unary('RunScheduleNow', log, admin, async (req) => {
      const c = cluster(req);
      return { jobId: await catalog.runNow(c, name(req)) };
    }),
    listScheduleRuns: unary('ListScheduleRuns', log, admin, async (req) => {
      const c = cluster(req);
      const limit = Math.min(SCHEDULE_RUNS_KEPT, check.listLimit('limit', req.limit) || DEFAULT_RUNS);
      return { runs: (await catalog.runs(c, name(req), limit)).map(scheduleRunOf) };
    }),
  };
}
