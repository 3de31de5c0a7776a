import { formatConnections } from '../connection-format';
import { formatJson } from '../format';
import { defineCommand } from './command';

/** `laneway connections`: the cluster's outgoing connections (never their secrets). */
export const connectionsCommand = defineCommand<null>({
  name: 'connections',
  summary: "List the cluster's outgoing connections (databases, HTTP APIs, Redis, RabbitMQ)",
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.listConnections(context.config.cluster);
    context.out(context.json ? formatJson(response) : formatConnections(response, context.config.cluster));
    return 0;
  },
});
