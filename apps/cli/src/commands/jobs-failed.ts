import { formatFailedJobs, formatJson } from '../format';
import { countOption, expectPositionals, stringOption } from './arguments';
import { defineCommand } from './command';

export interface JobsFailedArgs {
  /** Empty: every service. */
  readonly service: string;
  /** 0: the control plane's default (100). */
  readonly limit: number;
}

export const jobsFailedCommand = defineCommand<JobsFailedArgs>({
  name: 'jobs failed',
  arguments: '',
  summary: 'List the async invocations that used up their attempts, newest first',
  options: {
    service: { type: 'string', valueName: 'NAME', description: "only this service's jobs" },
    limit: { type: 'string', valueName: 'N', description: 'at most N jobs (default 100)' },
  },
  parse(positionals, values) {
    expectPositionals('jobs failed', positionals, []);
    const service = stringOption(values, 'service')?.trim() ?? '';
    const limit = countOption(values, 'limit', 'jobs failed');
    return { service, limit: limit ?? 0 };
  },
  async run(args, context) {
    const cluster = context.config.cluster;
    const response = await context.api.listFailedJobs({ cluster, service: args.service, limit: args.limit });
    context.out(
      context.json ? formatJson(response) : formatFailedJobs(response, { cluster, service: args.service }),
    );
    return 0;
  },
});
