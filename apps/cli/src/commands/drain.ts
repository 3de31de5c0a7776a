import { expectPositionals } from './arguments';
import { defineCommand } from './command';
import { printServerChange } from './server-change';

export const drainCommand = defineCommand<{ readonly server: string }>({
  name: 'drain',
  arguments: 'SERVER',
  summary: 'Stop a server taking jobs; in-flight ones finish and it keeps syncing',
  options: {},
  parse(positionals) {
    const [server = ''] = expectPositionals('drain', positionals, ['SERVER']);
    return { server };
  },
  async run(args, context) {
    const server = await context.api.drainServer(context.config.cluster, args.server);
    printServerChange(server, 'drained', context);
    return 0;
  },
});
