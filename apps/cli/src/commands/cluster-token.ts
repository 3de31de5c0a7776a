import { Argument, Option } from 'commander';
import { formatJson } from '../format';
import { defineCommand } from './command';
import { optionValue } from './option-values';

export interface ClusterTokenArgs {
  readonly name: string;
  readonly rotate: boolean;
}

export const clusterTokenCommand = defineCommand<ClusterTokenArgs>({
  name: 'token',
  summary: "Print a cluster's join token (the servers' LANEWAY_JOIN_TOKEN), and nothing else",
  arguments: [new Argument('NAME', 'the cluster')],
  options: [
    new Option(
      '--rotate',
      'replace it first: connected servers stay connected, new connections need the new one',
    ),
  ],
  parse: ([name = ''], options) => ({ name, rotate: optionValue.flag(options, 'rotate') }),
  async run(args, context) {
    const joinToken = args.rotate
      ? await context.api.rotateJoinToken(args.name)
      : await context.api.getJoinToken(args.name);
    // Just the token on stdout, so `export LANEWAY_JOIN_TOKEN=$(laneway cluster token NAME)` works.
    context.out(context.json ? formatJson(joinToken) : joinToken.token);
    return 0;
  },
});
