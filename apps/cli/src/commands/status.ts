import { CliError } from '../errors';
import { formatDeploymentStatus, formatJson, formatNotConverged } from '../format';
import { defineCommand } from './command';

export const statusCommand = defineCommand<null>({
  name: 'status',
  summary: 'Show whether every server runs the desired revision (exit 1 if a connected one does not)',
  arguments: [],
  options: [],
  parse: () => null,
  async run(_args, context) {
    const status = await context.api.getDeploymentStatus(context.config.cluster);
    context.out(context.json ? formatJson(status) : formatDeploymentStatus(status));
    const behind = formatNotConverged(status);
    if (behind !== undefined) throw new CliError(behind);
    return 0;
  },
});
