import { Argument } from 'commander';
import { formatJson, formatServiceVersions } from '../format';
import { defineCommand } from './command';

export const versionsCommand = defineCommand<{ readonly service: string }>({
  name: 'versions',
  summary: 'List the versions a service has had, newest first (* marks the current one)',
  arguments: [new Argument('SERVICE', 'the service, as deployed')],
  options: [],
  parse: ([service = '']) => ({ service }),
  async run(args, context) {
    const response = await context.api.listServiceVersions(context.config.cluster, args.service);
    context.out(context.json ? formatJson(response) : formatServiceVersions(response, args.service));
    return 0;
  },
});
