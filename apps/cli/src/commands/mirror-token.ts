import { Argument } from 'commander';
import { formatJson } from '../format';
import { defineCommand } from './command';

export const mirrorTokenCommand = defineCommand<{ readonly cluster: string }>({
  name: 'token',
  summary: "On the source: create a mirror token for CLUSTER (it can only read that cluster through the mirror link) and print it, once",
  arguments: [new Argument('CLUSTER', 'the cluster on this control plane that other sites will follow')],
  options: [],
  parse: ([cluster = '']) => ({ cluster }),
  async run(args, context) {
    const token = await context.api.createMirrorToken(args.cluster);
    if (context.json) {
      context.out(formatJson(token));
      return 0;
    }
    // Just the token on stdout, so `laneway mirror token prod > prod.mirror-token` works.
    context.out(token.token);
    context.err(
      `this mirror token is shown once and cannot be shown again: on the other site run ` +
        `'laneway mirror follow ${args.cluster} --source ${context.api.controlPlane} --token-file FILE' ` +
        `(FILE holding the token; add --ca FILE when this control plane uses TLS)`,
    );
    return 0;
  },
});
