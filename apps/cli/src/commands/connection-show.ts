import { Argument } from 'commander';
import { formatConnection } from '../connection-format';
import { formatJson } from '../format';
import { defineCommand } from './command';

export const connectionShowCommand = defineCommand<{ readonly name: string }>({
  name: 'show',
  summary: "Show a connection's settings (its secret only as set or not set)",
  arguments: [new Argument('NAME', 'the connection')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const connection = await context.api.getConnection(context.config.cluster, args.name);
    context.out(context.json ? formatJson(connection) : formatConnection(connection));
    return 0;
  },
});
