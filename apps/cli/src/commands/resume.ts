import { expectPositionals } from './arguments';
import { defineCommand } from './command';
import { printServerChange } from './server-change';

export const resumeCommand = defineCommand<{ readonly server: string }>({
  name: 'resume',
  arguments: 'SERVER',
  summary: 'Let a drained server take jobs again',
  options: {},
  parse(positionals) {
    const [server = ''] = expectPositionals('resume', positionals, ['SERVER']);
    return { server };
  },
  async run(args, context) {
    const server = await context.api.resumeServer(context.config.cluster, args.server);
    printServerChange(server, 'resumed', context);
    return 0;
  },
});
