import { formatJson } from '../format';
import { formatSchedules } from '../schedule-format';
import { defineCommand } from './command';

/** `laneway schedules`: the cluster's schedules and their next runs. */
export const schedulesCommand = defineCommand<null>({
  name: 'schedules',
  summary: "List the cluster's schedules and when each runs next",
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.listSchedules(context.config.cluster);
    context.out(context.json ? formatJson(response) : formatSchedules(response, context.config.cluster));
    return 0;
  },
});
