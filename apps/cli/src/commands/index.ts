import type { Command } from './command';
import { clusterCreateCommand } from './cluster-create';
import { clusterDeleteCommand } from './cluster-delete';
import { clusterTokenCommand } from './cluster-token';
import { clustersCommand } from './clusters';
import { deployCommand } from './deploy';
import { drainCommand } from './drain';
import { invokeCommand } from './invoke';
import { jobCommand } from './job';
import { jobsFailedCommand } from './jobs-failed';
import { jobsRetryCommand } from './jobs-retry';
import { resumeCommand } from './resume';
import { rollbackCommand } from './rollback';
import { serversCommand } from './servers';
import { servicesCommand } from './services';
import { statusCommand } from './status';
import { undeployCommand } from './undeploy';
import { versionsCommand } from './versions';

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = Object.freeze([
  deployCommand,
  invokeCommand,
  servicesCommand,
  versionsCommand,
  rollbackCommand,
  undeployCommand,
  statusCommand,
  jobCommand,
  jobsFailedCommand,
  jobsRetryCommand,
  serversCommand,
  drainCommand,
  resumeCommand,
  clustersCommand,
  clusterCreateCommand,
  clusterDeleteCommand,
  clusterTokenCommand,
]);

export type { Command, CommandContext, PreparedCommand } from './command';
