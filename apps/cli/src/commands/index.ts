import type { Command } from './command';
import { clusterCreateCommand } from './cluster-create';
import { clusterDeleteCommand } from './cluster-delete';
import { clustersCommand } from './clusters';
import { deployCommand } from './deploy';
import { invokeCommand } from './invoke';
import { serversCommand } from './servers';
import { servicesCommand } from './services';
import { undeployCommand } from './undeploy';

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = Object.freeze([
  deployCommand,
  invokeCommand,
  servicesCommand,
  undeployCommand,
  serversCommand,
  clustersCommand,
  clusterCreateCommand,
  clusterDeleteCommand,
]);

export type { Command, CommandContext, PreparedCommand } from './command';
