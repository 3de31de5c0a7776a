import { formatJson } from '../format';
import { expectPositionals } from './arguments';
import { defineCommand } from './command';

export const clusterDeleteCommand = defineCommand<{ readonly name: string }>({
  name: 'cluster delete',
  arguments: 'NAME',
  summary: 'Delete a cluster',
  options: {},
  parse(positionals) {
    const [name = ''] = expectPositionals('cluster delete', positionals, ['NAME']);
    return { name };
  },
  async run(args, context) {
    const response = await context.api.deleteCluster(args.name);
    context.out(context.json ? formatJson(response) : `deleted cluster ${args.name}`);
    return 0;
  },
});
