import { Argument } from 'commander';
import { defineCommand } from './command';
import { printServerChange } from './server-change';

export const drainCommand = defineCommand<{ readonly server: string }>({
  name: 'drain',
  summary: 'Stop a server taking jobs; in-flight ones finish and it keeps syncing',
  arguments: [new Argument('SERVER', "the server's name, as 'servers' lists it")],
  options: [],
  parse: ([server = '']) => ({ server }),
  async run(args, context) {
    const server = await context.api.drainServer(context.config.cluster, args.server);
    printServerChange(server, 'drained', context);
    return 0;
  },
});
