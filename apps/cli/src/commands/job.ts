import { Argument } from 'commander';
import { formatJob, formatJson } from '../format';
import { defineCommand } from './command';

export const jobCommand = defineCommand<{ readonly jobId: string }>({
  name: 'job',
  summary: 'Show an async invocation: state, attempts, input, output, failure',
  arguments: [new Argument('ID', "the job's id, as 'invoke --async' printed it")],
  options: [],
  parse: ([jobId = '']) => ({ jobId }),
  async run(args, context) {
    const job = await context.api.getJob(context.config.cluster, args.jobId);
    context.out(context.json ? formatJson(job) : formatJob(job));
    return 0;
  },
});
