import { formatClusters, formatJson } from '../format';
import { defineCommand } from './command';

export const clustersCommand = defineCommand<null>({
  name: 'clusters',
  summary: 'List the clusters',
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const response = await context.api.listClusters();
    context.out(context.json ? formatJson(response) : formatClusters(response));
    return 0;
  },
});
