import type { CliCommandEntry } from './command';
import { applyCommand } from './apply';
import { auditCommand } from './audit';
import { channelGroup } from './channel';
import { channelsCommand } from './channels';
import { clusterGroup } from './cluster';
import { clustersCommand } from './clusters';
import { connectionGroup } from './connection';
import { connectionsCommand } from './connections';
import { deployCommand } from './deploy';
import { devCommand } from './dev';
import { diffCommand } from './diff';
import { drainCommand } from './drain';
import { exportCommand } from './export';
import { invokeCommand } from './invoke';
import { jobCommand } from './job';
import { jobsGroup } from './jobs';
import { lbGroup } from './lb';
import { mirrorGroup } from './mirror';
import { resumeCommand } from './resume';
import { rollbackCommand } from './rollback';
import { scheduleGroup } from './schedule';
import { schedulesCommand } from './schedules';
import { securityGroup } from './security';
import { secretsGroup } from './secrets';
import { serverGroup } from './server';
import { serversCommand } from './servers';
import { servicesCommand } from './services';
import { statusCommand } from './status';
import { undeployCommand } from './undeploy';
import { versionsCommand } from './versions';
import { userGroup } from './user';
import { tokenGroup } from './token';

/**
 * Every command and command group, in the order the help lists them. A new command is a file in this
 * directory (defineCommand) added here, or to its group's file (defineGroup) for `laneway WORD NAME`.
 */
export const COMMANDS: readonly CliCommandEntry[] = Object.freeze([
  devCommand,
  deployCommand,
  invokeCommand,
  servicesCommand,
  versionsCommand,
  rollbackCommand,
  undeployCommand,
  exportCommand,
  diffCommand,
  applyCommand,
  channelsCommand,
  channelGroup,
  securityGroup,
  connectionsCommand,
  connectionGroup,
  schedulesCommand,
  scheduleGroup,
  secretsGroup,
  statusCommand,
  jobCommand,
  jobsGroup,
  serversCommand,
  serverGroup,
  drainCommand,
  resumeCommand,
  lbGroup,
  auditCommand,
  clustersCommand,
  clusterGroup,
  mirrorGroup,
  userGroup,
  tokenGroup,
]);

export type {
  CliCommand,
  CliCommandEntry,
  CliCommandGroup,
  CommandContext,
  PreparedCommand,
} from './command';
