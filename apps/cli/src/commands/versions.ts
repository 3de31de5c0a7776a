import { formatJson, formatServiceVersions } from '../format';
import { expectPositionals } from './arguments';
import { defineCommand } from './command';

export const versionsCommand = defineCommand<{ readonly service: string }>({
  name: 'versions',
  arguments: 'SERVICE',
  summary: 'List the versions a service has had, newest first (* marks the current one)',
  options: {},
  parse(positionals) {
    const [service = ''] = expectPositionals('versions', positionals, ['SERVICE']);
    return { service };
  },
  async run(args, context) {
    const response = await context.api.listServiceVersions(context.config.cluster, args.service);
    context.out(context.json ? formatJson(response) : formatServiceVersions(response, args.service));
    return 0;
  },
});
