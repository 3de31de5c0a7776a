import { channelCreateCommand } from './channel-create';
import { channelDeleteCommand } from './channel-delete';
import { channelShowCommand } from './channel-show';
import { channelUpdateCommand } from './channel-update';
import { channelsCommand } from './channels';
import { aliasOf, defineGroup } from './command';

/** `laneway channel list`, `… create NAME …`, `… update NAME …`, `… show NAME`, `… delete NAME`. */
export const channelGroup = defineGroup({
  name: 'channel',
  summary: 'List, create, update, show and delete REST channels',
  commands: [
    aliasOf(channelsCommand, 'list', "List the cluster's REST channels (also `laneway channels`)"),
    channelCreateCommand,
    channelUpdateCommand,
    channelShowCommand,
    channelDeleteCommand,
  ],
});
