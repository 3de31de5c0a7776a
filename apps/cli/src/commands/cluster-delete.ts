import { Argument } from 'commander';
import { formatJson } from '../format';
import { defineCommand } from './command';

export const clusterDeleteCommand = defineCommand<{ readonly name: string }>({
  name: 'delete',
  summary: 'Delete a cluster',
  arguments: [new Argument('NAME', 'the cluster')],
  options: [],
  parse: ([name = '']) => ({ name }),
  async run(args, context) {
    const response = await context.api.deleteCluster(args.name);
    context.out(context.json ? formatJson(response) : `deleted cluster ${args.name}`);
    return 0;
  },
});
