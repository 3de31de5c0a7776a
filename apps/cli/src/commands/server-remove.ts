import { Argument } from 'commander';
import { formatJson } from '../format';
import { defineCommand } from './command';

export const serverRemoveCommand = defineCommand<{ readonly server: string }>({
  name: 'remove',
  summary: 'Forget a stopped server (refused while it is connected); it joins anew if it says hello again',
  arguments: [new Argument('SERVER', "the server's name, as 'servers' lists it")],
  options: [],
  parse: ([server = '']) => ({ server }),
  async run(args, context) {
    const response = await context.api.removeServer(context.config.cluster, args.server);
    context.out(context.json ? formatJson(response) : `removed server ${args.server} from cluster ${context.config.cluster}`);
    return 0;
  },
});
