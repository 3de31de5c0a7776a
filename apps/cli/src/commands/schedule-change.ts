import { WaitFor } from '@laneway/proto';
import { Argument } from 'commander';
import { formatScheduleChange } from '../schedule-format';
import { reportResourceChange } from './channel-change';
import { defineCommand } from './command';
import { CHANNEL_WAIT_OPTIONS, readWaitOptions, type WaitArgs } from './wait-options';

export interface ScheduleChangeArgs {
  readonly name: string;
  readonly waitFor: WaitArgs['waitFor'];
  readonly waitTimeoutMs: number;
}

const SUMMARIES = {
  pause: 'Pause a schedule: no ticks until resumed (a run under way finishes)',
  resume: 'Resume a paused schedule',
  delete: 'Delete a schedule and its run list',
} as const;
const VERBS = { pause: 'paused', resume: 'resumed', delete: 'deleted' } as const;

/** `laneway schedule pause|resume|delete NAME`. */
export const scheduleChangeCommand = (change: 'pause' | 'resume' | 'delete') =>
  defineCommand<ScheduleChangeArgs>({
    name: change,
    summary: SUMMARIES[change],
    arguments: [new Argument('NAME', 'the schedule')],
    options: CHANNEL_WAIT_OPTIONS,
    parse([name = ''], options) {
      const wait = readWaitOptions(options, 'wait-timeout');
      return { name, waitFor: wait.waitFor, waitTimeoutMs: wait.timeoutMs };
    },
    async run(args, context) {
      const response = await context.api.changeSchedule(change, { cluster: context.config.cluster, ...args });
      return reportResourceChange(response, () => formatScheduleChange(VERBS[change], args.name, response, { waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }), context);
    },
  });
