import { Argument } from 'commander';
import { formatClusterCreated, formatJson } from '../format';
import { defineCommand } from './command';

export const clusterCreateCommand = defineCommand<{ readonly name: string }>({
  name: 'create',
  summary: 'Create a cluster',
  arguments: [new Argument('NAME', 'the new cluster')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const cluster = await context.api.createCluster(args.name);
    context.out(context.json ? formatJson(cluster) : formatClusterCreated(cluster));
    return 0;
  },
});
