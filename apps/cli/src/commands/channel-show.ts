import { Argument } from 'commander';
import { formatChannel, formatJson } from '../format';
import { defineCommand } from './command';

export const channelShowCommand = defineCommand<{ readonly name: string }>({
  name: 'show',
  summary: "Show a REST channel's fields",
  arguments: [new Argument('NAME', 'the channel')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const channel = await context.api.describeChannel(context.config.cluster, args.name);
    context.out(context.json ? formatJson(channel) : formatChannel(channel));
    return 0;
  },
});
