import { Argument } from 'commander';
import { reportChannelChange } from './channel-change';
import { defineCommand } from './command';
import { CHANNEL_WAIT_OPTIONS, readWaitOptions } from './wait-options';
import type { WaitArgs } from './wait-options';

export interface ChannelDeleteArgs {
  readonly name: string;
  readonly waitFor: WaitArgs['waitFor'];
  /** 0: the control plane's default (10 s). */
  readonly waitTimeoutMs: number;
}

export const channelDeleteCommand = defineCommand<ChannelDeleteArgs>({
  name: 'delete',
  summary: 'Delete a REST channel: the servers stop answering its path',
  arguments: [new Argument('NAME', 'the channel')],
  options: CHANNEL_WAIT_OPTIONS,
  parse([name = ''], options) {
    const wait = readWaitOptions(options, 'wait-timeout');
    return { name, waitFor: wait.waitFor, waitTimeoutMs: wait.timeoutMs };
  },
  async run(args, context) {
    const response = await context.api.deleteChannel({ cluster: context.config.cluster, ...args });
    return reportChannelChange('deleted', args, response, context);
  },
});
