import { formatJson, formatServices } from '../format';
import { defineCommand } from './command';

export const servicesCommand = defineCommand<null>({
  name: 'services',
  summary: "List the cluster's services",
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.listServices(context.config.cluster);
    context.out(context.json ? formatJson(response) : formatServices(response, context.config.cluster));
    return 0;
  },
});
