import { defineGroup } from './command';
import { drainCommand } from './drain';
import { resumeCommand } from './resume';
import { serverRemoveCommand } from './server-remove';
import { serversCommand } from './servers';

/** `laneway server list`, `… drain NAME`, `… resume NAME`, `… remove NAME` (`servers`, `drain`, `resume` stay top-level too). */
export const serverGroup = defineGroup({
  name: 'server',
  summary: "List, drain, resume and remove the cluster's data-plane servers",
  commands: [{ ...serversCommand, name: 'list' }, drainCommand, resumeCommand, serverRemoveCommand],
});
