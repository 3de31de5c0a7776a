import { Argument } from 'commander';
import { formatJson } from '../format';
import { formatMirrorStatus } from '../mirror-format';
import { defineCommand } from './command';

export const mirrorStatusCommand = defineCommand<{ readonly cluster: string }>({
  name: 'status',
  summary: "Show CLUSTER's mirror role (standalone, source or follower), epoch, revisions, lag and link, or its followers",
  arguments: [new Argument('CLUSTER', 'the cluster on this control plane')],
  options: [],
  parse: ([cluster = '']) => ({ cluster }),
  async run(args, context) {
    const status = await context.api.getMirrorStatus(args.cluster);
    context.out(context.json ? formatJson(status) : formatMirrorStatus(status));
    return 0;
  },
});
