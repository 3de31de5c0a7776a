import { ScheduleOverlap } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { scheduleSpecOf, timingOf, type ScheduleInput } from './schedule-spec';

const base: ScheduleInput = { name: 'nightly', service: 'billing.close', inputJson: '', intervalMs: 0, cron: '0 3 * * *', timezone: '', overlap: ScheduleOverlap.SCHEDULE_OVERLAP_UNSPECIFIED };

function refusal(input: Partial<ScheduleInput>): InvalidArgumentError {
  try {
    scheduleSpecOf({ ...base, ...input });
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('scheduleSpecOf', () => {
  it('accepts a cron schedule in a time zone and an interval schedule, SKIP by default', () => {
    expect(scheduleSpecOf({ ...base, timezone: 'Europe/Berlin', inputJson: '{"day":1}' })).toEqual({
      service: 'billing.close',
      inputJson: '{"day":1}',
      intervalMs: 0,
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      overlap: ScheduleOverlap.SCHEDULE_OVERLAP_SKIP,
      paused: false,
    });
    const every = scheduleSpecOf({ ...base, cron: '', intervalMs: 30_000, overlap: ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW }, true);
    expect(every).toMatchObject({ intervalMs: 30_000, overlap: ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW, paused: true });
    expect(timingOf(every)).toEqual({ everyMs: 30_000 });
    expect(timingOf(scheduleSpecOf({ ...base, cron: '*/10 * * * * *' }))).toEqual({ cron: '*/10 * * * * *', timezone: '' });
  });

  it.each([
    [{ cron: '61 * * * *' }, 'cron', "'61 * * * *'"],
    [{ cron: 'every day' }, 'cron', "'every day'"],
    [{ cron: '0 0 30 2 *' }, 'cron', "'0 0 30 2 *'"],
    [{ timezone: 'Europe/Atlantis' }, 'timezone', "'Europe/Atlantis'"],
    [{ cron: '', intervalMs: 60_000, timezone: 'UTC' }, 'timezone', "'UTC'"],
    [{ cron: '' }, 'interval_ms', 'give interval_ms'],
    [{ intervalMs: 60_000 }, 'cron', 'not both'],
    [{ cron: '', intervalMs: 999 }, 'interval_ms', '999'],
    [{ service: '' }, 'service', 'service is empty'],
    [{ inputJson: '{"a":' }, 'input_json', 'not JSON'],
    [{ name: 'with space' }, 'name', "'with space'"],
    [{ name: 'a:b' }, 'name', "'a:b'"],
    [{ overlap: 7 as ScheduleOverlap }, 'overlap', '7'],
  ])('refuses %j naming %s', (input, field, shown) => {
    const err = refusal(input);
    expect(err.field).toBe(field);
    expect(err.message).toContain(shown);
  });
});
