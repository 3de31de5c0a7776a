import { Argument } from 'commander';
import { formatJson, formatSecurityDefinition } from '../format';
import { defineCommand } from './command';

export const securityShowCommand = defineCommand<{ readonly name: string }>({
  name: 'show',
  summary: "Show a security definition's fields (its secret only as set or not)",
  arguments: [new Argument('NAME', 'the security definition')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const definition = await context.api.getSecurityDefinition(context.config.cluster, args.name);
    context.out(context.json ? formatJson(definition) : formatSecurityDefinition(definition));
    return 0;
  },
});
