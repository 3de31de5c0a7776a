import { Argument } from 'commander';
import { defineCommand } from './command';
import { printServerChange } from './server-change';

export const resumeCommand = defineCommand<{ readonly server: string }>({
  name: 'resume',
  summary: 'Let a drained server take jobs again',
  arguments: [new Argument('SERVER', "the server's name, as 'servers' lists it")],
  options: [],
  parse: ([server = '']) => ({ server }),
  async run(args, context) {
    const server = await context.api.resumeServer(context.config.cluster, args.server);
    printServerChange(server, 'resumed', context);
    return 0;
  },
});
