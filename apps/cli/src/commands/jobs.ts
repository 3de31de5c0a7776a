import { aliasOf, defineGroup } from './command';
import { jobCommand } from './job';
import { jobsFailedCommand } from './jobs-failed';
import { jobsRetryCommand } from './jobs-retry';

/** `laneway jobs list` (= `failed`), `laneway jobs failed`, `… show ID` (= `laneway job ID`), `… retry ID`. */
export const jobsGroup = defineGroup({
  name: 'jobs',
  summary: 'Async invocations: show one; list those that used up their attempts, queue them again',
  commands: [
    aliasOf(
      jobsFailedCommand,
      'list',
      'List the async invocations that used up their attempts, newest first (as `jobs failed`)',
    ),
    jobsFailedCommand,
    aliasOf(jobCommand, 'show', 'Show an async invocation: state, attempts, input, output, failure (also `laneway job ID`)'),
    jobsRetryCommand,
  ],
});
