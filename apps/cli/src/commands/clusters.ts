import { formatClusters, formatJson } from '../format';
import { expectPositionals } from './arguments';
import { defineCommand } from './command';

export const clustersCommand = defineCommand<null>({
  name: 'clusters',
  arguments: '',
  summary: 'List the clusters',
  options: {},
  parse(positionals) {
    expectPositionals('clusters', positionals, []);
    return null;
  },
  async run(_args, context) {
    const response = await context.api.listClusters();
    context.out(context.json ? formatJson(response) : formatClusters(response));
    return 0;
  },
});
