import { formatJson, formatServices } from '../format';
import { expectPositionals } from './arguments';
import { defineCommand } from './command';

export const servicesCommand = defineCommand<null>({
  name: 'services',
  arguments: '',
  summary: "List the cluster's services",
  options: {},
  parse(positionals) {
    expectPositionals('services', positionals, []);
    return null;
  },
  async run(_args, context) {
    const response = await context.api.listServices(context.config.cluster);
    context.out(context.json ? formatJson(response) : formatServices(response, context.config.cluster));
    return 0;
  },
});
