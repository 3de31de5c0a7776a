import { formatJson } from '../format';
import { booleanOption, expectPositionals } from './arguments';
import { defineCommand } from './command';

export interface ClusterTokenArgs {
  readonly name: string;
  readonly rotate: boolean;
}

export const clusterTokenCommand = defineCommand<ClusterTokenArgs>({
  name: 'cluster token',
  arguments: 'NAME',
  summary: "Print a cluster's join token (the servers' LANEWAY_JOIN_TOKEN), and nothing else",
  options: {
    rotate: {
      type: 'boolean',
      description: 'replace it first: connected servers stay connected, new connections need the new one',
    },
  },
  parse(positionals, values) {
    const [name = ''] = expectPositionals('cluster token', positionals, ['NAME']);
    return { name, rotate: booleanOption(values, 'rotate') };
  },
  async run(args, context) {
    const joinToken = args.rotate
      ? await context.api.rotateJoinToken(args.name)
      : await context.api.getJoinToken(args.name);
    // Just the token on stdout, so `export LANEWAY_JOIN_TOKEN=$(laneway cluster token NAME)` works.
    context.out(context.json ? formatJson(joinToken) : joinToken.token);
    return 0;
  },
});
