import { channelCreateCommand } from './channel-create';
import { channelDeleteCommand } from './channel-delete';
import { channelShowCommand } from './channel-show';
import { channelUpdateCommand } from './channel-update';
import { defineGroup } from './command';

/** `laneway channel create NAME …`, `… update NAME …`, `… show NAME`, `… delete NAME`. */
export const channelGroup = defineGroup({
  name: 'channel',
  summary: 'Create, update, show and delete REST channels',
  commands: [channelCreateCommand, channelUpdateCommand, channelShowCommand, channelDeleteCommand],
});
