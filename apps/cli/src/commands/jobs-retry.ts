import { formatJobRetried, formatJson } from '../format';
import { expectPositionals } from './arguments';
import { defineCommand } from './command';

export const jobsRetryCommand = defineCommand<{ readonly jobId: string }>({
  name: 'jobs retry',
  arguments: 'ID',
  summary: 'Queue a failed async invocation again, with fresh attempts',
  options: {},
  parse(positionals) {
    const [jobId = ''] = expectPositionals('jobs retry', positionals, ['ID']);
    return { jobId };
  },
  async run(args, context) {
    const job = await context.api.retryJob(context.config.cluster, args.jobId);
    context.out(context.json ? formatJson(job) : formatJobRetried(job));
    return 0;
  },
});
