import { ScheduleOverlap, WaitFor } from '@laneway/proto';
import { Argument, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../errors';
import { namingFlags, type FlagNames } from '../flag-names';
import { formatScheduleChange } from '../schedule-format';
import { reportResourceChange } from './channel-change';
import { defineCommand } from './command';
import { durationParser, jsonTextParser, nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';
import { CHANNEL_WAIT_OPTIONS, readWaitOptions, type WaitArgs } from './wait-options';

/** The control plane's floor on interval_ms: checked here too, to name the flag and its unit. */
const MIN_INTERVAL_MS = 1000;

/** The request's fields as the control plane names them, and the flags they come from. */
export const SCHEDULE_FLAGS: FlagNames = {
  service: '--service',
  interval_ms: '--every',
  cron: '--cron',
  timezone: '--tz',
  input_json: '--data',
  overlap: '--overlap',
  wait_timeout_ms: '--wait-timeout',
};

export interface SchedulePutArgs {
  readonly name: string;
  readonly service: string;
  readonly intervalMs: number;
  readonly cron: string;
  readonly timezone: string;
  readonly inputJson: string;
  readonly overlap: ScheduleOverlap;
  readonly waitFor: WaitArgs['waitFor'];
  readonly waitTimeoutMs: number;
}

function overlapParser(value: string): ScheduleOverlap {
  if (value === 'skip') return ScheduleOverlap.SCHEDULE_OVERLAP_SKIP;
  if (value === 'allow') return ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW;
  throw new InvalidArgumentError("Give skip (a tick while the last run is still going is skipped) or allow.");
}

/** `laneway schedule create|update NAME --service S (--every 30s | --cron EXPR [--tz ZONE]) [--data JSON] [--overlap skip|allow]`. */
export const schedulePutCommand = (mode: 'create' | 'update') =>
  defineCommand<SchedulePutArgs>({
    name: mode,
    summary: mode === 'create' ? 'Create a schedule: a service run on an interval or a cron expression' : 'Replace every field of a schedule (a paused one stays paused)',
    arguments: [new Argument('NAME', 'the schedule')],
    options: [
      new Option('--service <NAME>', 'the deployed service every run invokes').makeOptionMandatory().argParser(nonEmptyParser('a service name')),
      new Option('--every <DURATION>', 'run every DURATION (30s, 5m, 1h; at least 1s); the first run is one interval from now').argParser(durationParser('--every', '30s', MIN_INTERVAL_MS)),
      new Option('--cron <EXPR>', "run on a cron expression: minute hour day month weekday, e.g. '0 * * * *'").argParser(nonEmptyParser('a cron expression')),
      new Option('--tz <ZONE>', 'the IANA time zone of --cron (default UTC), e.g. Europe/Berlin').argParser(nonEmptyParser('a time zone')),
      new Option('--data <JSON>', 'the input of every run (default null)').argParser(jsonTextParser('--data')),
      new Option('--overlap <RULE>', 'skip (default): a tick while the last run is still going is recorded as skipped; allow: it runs anyway').argParser(overlapParser),
      ...CHANNEL_WAIT_OPTIONS,
    ],
    parse([name = ''], options) {
      const intervalMs = optionValue.number(options, 'every') ?? 0;
      const cron = optionValue.string(options, 'cron') ?? '';
      const timezone = optionValue.string(options, 'tz') ?? '';
      if ((intervalMs ? 1 : 0) + (cron ? 1 : 0) !== 1) throw new UsageError('give exactly one of --every DURATION or --cron EXPR');
      if (timezone && !cron) throw new UsageError('--tz goes with --cron (an interval is the same in every time zone)');
      const wait = readWaitOptions(options, 'wait-timeout');
      return {
        name,
        service: optionValue.string(options, 'service') ?? '',
        intervalMs,
        cron,
        timezone,
        inputJson: optionValue.string(options, 'data') ?? '',
        overlap: (options['overlap'] as ScheduleOverlap | undefined) ?? ScheduleOverlap.SCHEDULE_OVERLAP_SKIP,
        waitFor: wait.waitFor,
        waitTimeoutMs: wait.timeoutMs,
      };
    },
    async run(args, context) {
      const response = await namingFlags(SCHEDULE_FLAGS, () =>
        context.api.putSchedule({ cluster: context.config.cluster, ...args }, mode === 'update'),
      );
      return reportResourceChange(
        response,
        () => formatScheduleChange(mode === 'create' ? 'created' : 'updated', args.name, response, { waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }),
        context,
      );
    },
  });
