import { formatChannels, formatJson } from '../format';
import { defineCommand } from './command';

export const channelsCommand = defineCommand<null>({
  name: 'channels',
  summary: "List the cluster's REST channels",
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.listChannels(context.config.cluster);
    context.out(context.json ? formatJson(response) : formatChannels(response, context.config.cluster));
    return 0;
  },
});
