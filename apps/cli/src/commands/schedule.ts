import { aliasOf, defineGroup } from './command';
import { scheduleChangeCommand } from './schedule-change';
import { schedulePutCommand } from './schedule-put';
import { scheduleRunCommand, scheduleRunsCommand, scheduleShowCommand } from './schedule-show';
import { schedulesCommand } from './schedules';

/** `laneway schedule list`, `… create|update|show|pause|resume|run|runs|delete NAME …`: the cluster's schedules. */
export const scheduleGroup = defineGroup({
  name: 'schedule',
  summary: 'List, create, update, show, pause, resume, run now and delete schedules; list their runs',
  commands: [
    aliasOf(schedulesCommand, 'list', "List the cluster's schedules and when each runs next (also `laneway schedules`)"),
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
