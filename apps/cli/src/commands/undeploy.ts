import { WaitFor } from '@laneway/proto';
import { Argument } from 'commander';
import { CliError } from '../errors';
import { namingFlags } from '../flag-names';
import { formatApplyFailure, formatJson, formatUndeploy } from '../format';
import { defineCommand } from './command';
import { readWaitOptions, WAIT_FLAGS, WAIT_OPTIONS } from './wait-options';
import type { WaitArgs } from './wait-options';

export interface UndeployArgs extends WaitArgs {
  readonly name: string;
}

export const undeployCommand = defineCommand<UndeployArgs>({
  name: 'undeploy',
  summary: 'Remove a service from the cluster',
  arguments: [new Argument('NAME', 'the service, as deployed')],
  options: WAIT_OPTIONS,
  parse([name = ''], options) {
    return { name, ...readWaitOptions(options) };
  },
  async run(args, context) {
    const response = await namingFlags(WAIT_FLAGS, () =>
      context.api.undeploy({
        cluster: context.config.cluster,
        name: args.name,
        waitFor: args.waitFor,
        timeoutMs: args.timeoutMs,
      }),
    );
    context.out(
      context.json
        ? formatJson(response)
        : formatUndeploy(args.name, response, { waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }),
    );
    const failure = formatApplyFailure(response.revision, response.servers);
    if (failure !== undefined) throw new CliError(failure);
    return 0;
  },
});
