import { Argument } from 'commander';
import { namingFlags } from '../flag-names';
import { CHANNEL_FIELD_OPTIONS, CHANNEL_FLAGS, readChannelFields } from './channel-fields';
import type { ChannelFieldArgs } from './channel-fields';
import { reportChannelChange } from './channel-change';
import { defineCommand } from './command';

export const channelCreateCommand = defineCommand<ChannelFieldArgs>({
  name: 'create',
  summary: 'Create a REST channel: an HTTP method and path every server answers by invoking a service',
  arguments: [new Argument('NAME', 'the channel: letters, digits, ., - and _')],
  options: CHANNEL_FIELD_OPTIONS,
  parse: ([name = ''], options) => readChannelFields(name, options),
  async run(args, context) {
    const response = await namingFlags(CHANNEL_FLAGS, () =>
      context.api.createChannel({ cluster: context.config.cluster, ...args }),
    );
    return reportChannelChange('created', args, response, context);
  },
});
