import { Option } from 'commander';
import { namingFlags } from '../flag-names';
import { formatFailedJobs, formatJson } from '../format';
import { defineCommand } from './command';
import { countParser } from './option-parsers';
import { optionValue } from './option-values';

export interface JobsFailedArgs {
  /** Empty: every service. */
  readonly service: string;
  /** 0: the control plane's default (100). */
  readonly limit: number;
}

export const jobsFailedCommand = defineCommand<JobsFailedArgs>({
  name: 'failed',
  summary: 'List the async invocations that used up their attempts, newest first',
  arguments: [],
  options: [
    new Option('--service <NAME>', "only this service's jobs"),
    new Option('--limit <N>', 'at most N jobs (default 100)').argParser(countParser('--limit')),
  ],
  parse(_positionals, options) {
    return {
      service: optionValue.string(options, 'service')?.trim() ?? '',
      limit: optionValue.number(options, 'limit') ?? 0,
    };
  },
  async run(args, context) {
    const cluster = context.config.cluster;
    const response = await namingFlags({ limit: '--limit', service: '--service' }, () =>
      context.api.listFailedJobs({ cluster, service: args.service, limit: args.limit }),
    );
    context.out(
      context.json ? formatJson({ jobs: response.jobs }) : formatFailedJobs(response, { cluster, service: args.service }),
    );
    return 0;
  },
});
