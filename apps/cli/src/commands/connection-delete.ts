import { WaitFor } from '@laneway/proto';
import { Argument } from 'commander';
import { formatConnectionChange } from '../connection-format';
import { reportResourceChange } from './channel-change';
import { defineCommand } from './command';
import { CHANNEL_WAIT_OPTIONS, readWaitOptions } from './wait-options';
import type { WaitArgs } from './wait-options';

export interface ConnectionDeleteArgs {
  readonly name: string;
  readonly waitFor: WaitArgs['waitFor'];
  /** 0: the control plane's default (10 s). */
  readonly waitTimeoutMs: number;
}

export const connectionDeleteCommand = defineCommand<ConnectionDeleteArgs>({
  name: 'delete',
  summary: 'Delete a connection (refused while a deployed service declares it)',
  arguments: [new Argument('NAME', 'the connection')],
  options: CHANNEL_WAIT_OPTIONS,
  parse([name = ''], options) {
    const wait = readWaitOptions(options, 'wait-timeout');
    return { name, waitFor: wait.waitFor, waitTimeoutMs: wait.timeoutMs };
  },
  async run(args, context) {
    const response = await context.api.deleteConnection({ cluster: context.config.cluster, ...args });
    return reportResourceChange(
      response,
      () =>
        formatConnectionChange('deleted', args.name, response, {
          waited: args.waitFor !== WaitFor.WAIT_FOR_NONE,
        }),
      context,
    );
  },
});
