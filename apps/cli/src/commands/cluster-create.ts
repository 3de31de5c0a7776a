import { formatClusterCreated, formatJson } from '../format';
import { expectPositionals } from './arguments';
import { defineCommand } from './command';

export const clusterCreateCommand = defineCommand<{ readonly name: string }>({
  name: 'cluster create',
  arguments: 'NAME',
  summary: 'Create a cluster',
  options: {},
  parse(positionals) {
    const [name = ''] = expectPositionals('cluster create', positionals, ['NAME']);
    return { name };
  },
  async run(args, context) {
    const cluster = await context.api.createCluster(args.name);
    context.out(context.json ? formatJson(cluster) : formatClusterCreated(cluster));
    return 0;
  },
});
