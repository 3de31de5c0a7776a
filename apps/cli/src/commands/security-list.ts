import { formatJson, formatSecurityDefinitions } from '../format';
import { defineCommand } from './command';

/** `laneway security` and `laneway security list`. */
export const securityListCommand = defineCommand<null>({
  name: 'list',
  summary: "List the cluster's security definitions (also plain `laneway security`)",
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.listSecurityDefinitions(context.config.cluster);
    context.out(
      context.json ? formatJson(response) : formatSecurityDefinitions(response, context.config.cluster),
    );
    return 0;
  },
});
