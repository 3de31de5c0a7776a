import { Argument } from 'commander';
import { formatCluster, formatJson } from '../format';
import { defineCommand } from './command';

/** `laneway cluster show NAME`: one cluster, field by field. */
export const clusterShowCommand = defineCommand<{ readonly name: string }>({
  name: 'show',
  summary: "Show a cluster: its revision, services and when it was created",
  arguments: [new Argument('NAME', 'the cluster')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const cluster = await context.api.getCluster(args.name);
    context.out(context.json ? formatJson(cluster) : formatCluster(cluster));
    return 0;
  },
});
