import { formatJson, formatServers } from '../format';
import { defineCommand } from './command';

export const serversCommand = defineCommand<null>({
  name: 'servers',
  summary: "List the cluster's data-plane servers",
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.listServers(context.config.cluster);
    context.out(context.json ? formatJson(response) : formatServers(response, context.config.cluster));
    return 0;
  },
});
