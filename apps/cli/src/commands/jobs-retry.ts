import { Argument } from 'commander';
import { formatJobRetried, formatJson } from '../format';
import { defineCommand } from './command';

export const jobsRetryCommand = defineCommand<{ readonly jobId: string }>({
  name: 'retry',
  summary: 'Queue a failed async invocation again, with fresh attempts',
  arguments: [new Argument('ID', "a failed job's id, as 'jobs failed' lists it")],
  options: [],
  parse: ([jobId = '']) => ({ jobId }),
  async run(args, context) {
    const job = await context.api.retryJob(context.config.cluster, args.jobId);
    context.out(context.json ? formatJson(job) : formatJobRetried(job));
    return 0;
  },
});
