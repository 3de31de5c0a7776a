import { WaitFor } from '@laneway/proto';
import { CliError } from '../errors';
import { formatApplyFailure, formatJson, formatRollback } from '../format';
import { booleanOption, expectPositionals, millisecondsOption, WAIT_OPTIONS } from './arguments';
import { defineCommand } from './command';

export interface RollbackArgs {
  readonly service: string;
  /** As `versions` prints it: a unique prefix of at least 6 characters will do. */
  readonly version: string;
  readonly waitFor: WaitFor;
  /** 0: the control plane's default (10 s). */
  readonly timeoutMs: number;
}

export const rollbackCommand = defineCommand<RollbackArgs>({
  name: 'rollback',
  arguments: 'SERVICE VERSION',
  summary: 'Make an earlier version of a service current again, on every server',
  options: WAIT_OPTIONS,
  parse(positionals, values) {
    const [service = '', version = ''] = expectPositionals('rollback', positionals, ['SERVICE', 'VERSION']);
    const noWait = booleanOption(values, 'no-wait');
    const timeoutMs = millisecondsOption(values, 'timeout', 'rollback');
    return {
      service,
      version,
      waitFor: noWait ? WaitFor.WAIT_FOR_NONE : WaitFor.WAIT_FOR_ALL_SERVERS,
      timeoutMs: timeoutMs ?? 0,
    };
  },
  async run(args, context) {
    const response = await context.api.rollback({
      cluster: context.config.cluster,
      service: args.service,
      version: args.version,
      waitFor: args.waitFor,
      timeoutMs: args.timeoutMs,
    });
    context.out(
      context.json
        ? formatJson(response)
        : formatRollback(response, { waited: args.waitFor !== WaitFor.WAIT_FOR_NONE }),
    );
    const failure = formatApplyFailure(response.revision, response.servers);
    if (failure !== undefined) throw new CliError(failure);
    return 0;
  },
});
