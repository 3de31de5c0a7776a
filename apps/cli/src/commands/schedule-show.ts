import { Argument, Option } from 'commander';
import { namingFlags } from '../flag-names';
import { formatJson } from '../format';
import { formatSchedule, formatScheduleRuns } from '../schedule-format';
import { defineCommand } from './command';
import { countParser } from './option-parsers';
import { optionValue } from './option-values';

/** `laneway schedule show NAME`. */
export const scheduleShowCommand = defineCommand<{ readonly name: string }>({
  name: 'show',
  summary: 'Show a schedule and when it runs next',
  arguments: [new Argument('NAME', 'the schedule')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const schedule = await context.api.getSchedule(context.config.cluster, args.name);
    context.out(context.json ? formatJson(schedule) : formatSchedule(schedule));
    return 0;
  },
});

/** `laneway schedule run NAME`: one run now. */
export const scheduleRunCommand = defineCommand<{ readonly name: string }>({
  name: 'run',
  summary: 'Run a schedule once now (also a paused one), like a tick',
  arguments: [new Argument('NAME', 'the schedule')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const jobId = await context.api.runScheduleNow(context.config.cluster, args.name);
    context.out(context.json ? formatJson({ jobId }) : `queued a run of schedule '${args.name}': job ${jobId} (see laneway schedule runs ${args.name})`);
    return 0;
  },
});

/** `laneway schedule runs NAME [--limit N]`: the last runs, newest first. */
export const scheduleRunsCommand = defineCommand<{ readonly name: string; readonly limit: number }>({
  name: 'runs',
  summary: "A schedule's last runs: when, which server, outcome, duration",
  arguments: [new Argument('NAME', 'the schedule')],
  options: [new Option('--limit <N>', 'how many (default 100, at most 1000)').argParser(countParser('--limit'))],
  parse: ([name = ''], options) => ({ name, limit: optionValue.number(options, 'limit') ?? 0 }),
  async run(args, context) {
    const response = await namingFlags({ limit: '--limit' }, () =>
      context.api.listScheduleRuns(context.config.cluster, args.name, args.limit),
    );
    context.out(context.json ? formatJson(response) : formatScheduleRuns(response, args.name));
    return 0;
  },
});
