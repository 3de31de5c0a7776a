import { defineGroup } from './command';
import { scheduleChangeCommand } from './schedule-change';
import { schedulePutCommand } from './schedule-put';
import { scheduleRunCommand, scheduleRunsCommand, scheduleShowCommand } from './schedule-show';

/** `laneway schedule create|update|show|pause|resume|run|runs|delete NAME …`: the cluster's schedules. */
export const scheduleGroup = defineGroup({
  name: 'schedule',
  summary: 'Create, update, show, pause, resume, run now and delete schedules; list their runs',
  commands: [
    schedulePutCommand('create'),
    schedulePutCommand('update'),
    scheduleShowCommand,
    scheduleChangeCommand('pause'),
    scheduleChangeCommand('resume'),
    scheduleRunCommand,
    scheduleRunsCommand,
    scheduleChangeCommand('delete'),
  ],
});
