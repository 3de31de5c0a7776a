import { formatJob, formatJson } from '../format';
import { expectPositionals } from './arguments';
import { defineCommand } from './command';

export const jobCommand = defineCommand<{ readonly jobId: string }>({
  name: 'job',
  arguments: 'ID',
  summary: 'Show an async invocation: state, attempts, input, output, failure',
  options: {},
  parse(positionals) {
    const [jobId = ''] = expectPositionals('job', positionals, ['ID']);
    return { jobId };
  },
  async run(args, context) {
    const job = await context.api.getJob(context.config.cluster, args.jobId);
    context.out(context.json ? formatJson(job) : formatJob(job));
    return 0;
  },
});
