import { Argument } from 'commander';
import { namingFlags } from '../flag-names';
import { CHANNEL_FIELD_OPTIONS, CHANNEL_FLAGS, readChannelFields } from './channel-fields';
import type { ChannelFieldArgs } from './channel-fields';
import { reportChannelChange } from './channel-change';
import { defineCommand } from './command';

export const channelUpdateCommand = defineCommand<ChannelFieldArgs>({
  name: 'update',
  summary: 'Replace every field of a REST channel (a flag left out takes its default)',
  arguments: [new Argument('NAME', 'the channel')],
  options: CHANNEL_FIELD_OPTIONS,
  parse: ([name = ''], options) => readChannelFields(name, options),
  async run(args, context) {
    const response = await namingFlags(CHANNEL_FLAGS, () =>
      context.api.updateChannel({ cluster: context.config.cluster, ...args }),
    );
    return reportChannelChange('updated', args, response, context);
  },
});
