import { defineGroup } from './command';
import { jobsFailedCommand } from './jobs-failed';
import { jobsRetryCommand } from './jobs-retry';

/** `laneway jobs failed`, `laneway jobs retry ID`. */
export const jobsGroup = defineGroup({
  name: 'jobs',
  summary: 'Async invocations that used up their attempts: list them, queue them again',
  commands: [jobsFailedCommand, jobsRetryCommand],
});
