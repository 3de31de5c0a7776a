import { WaitFor } from '@laneway/proto';
import { CliError } from '../errors';
import { formatApplyFailure, formatJson, formatUndeploy } from '../format';
import { booleanOption, expectPositionals, millisecondsOption, WAIT_OPTIONS } from './arguments';
import { defineCommand } from './command';

export interface UndeployArgs {
  readonly name: string;
  readonly waitFor: WaitFor;
  readonly timeoutMs: number;
}

export const undeployCommand = defineCommand<UndeployArgs>({
  name: 'undeploy',
  arguments: 'NAME',
  summary: 'Remove a service from the cluster',
  options: WAIT_OPTIONS,
  parse(positionals, values) {
    const [name = ''] = expectPositionals('undeploy', positionals, ['NAME']);
    const noWait = booleanOption(values, 'no-wait');
    const timeoutMs = millisecondsOption(values, 'timeout', 'undeploy');
    return {
      name,
      waitFor: noWait ? WaitFor.WAIT_FOR_NONE : WaitFor.WAIT_FOR_ALL_SERVERS,
      timeoutMs: timeoutMs ?? 0,
    };
  },
  async run(args, context) {
    const response = await context.api.undeploy({
      cluster: context.config.cluster,
      name: args.name,
      waitFor: args.waitFor,
      timeoutMs: args.timeoutMs,
    });
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
