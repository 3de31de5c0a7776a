import { WaitFor } from '@laneway/proto';
import { Argument } from 'commander';
import { CliError } from '../errors';
import { formatApplyFailure, formatJson, formatRollback } from '../format';
import { defineCommand } from './command';
import { readWaitOptions, WAIT_OPTIONS } from './wait-options';
import type { WaitArgs } from './wait-options';

export interface RollbackArgs extends WaitArgs {
  readonly service: string;
  /** As `versions` prints it: a unique prefix of at least 6 characters will do. */
  readonly version: string;
}

export const rollbackCommand = defineCommand<RollbackArgs>({
  name: 'rollback',
  summary: 'Make an earlier version of a service current again, on every server',
  arguments: [
    new Argument('SERVICE', 'the service, as deployed'),
    new Argument('VERSION', "one of its versions as 'versions' prints it (a unique prefix of 6+ characters)"),
  ],
  options: WAIT_OPTIONS,
  parse([service = '', version = ''], options) {
    return { service, version, ...readWaitOptions(options) };
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
