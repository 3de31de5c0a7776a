import type { RoleName } from '../store';

/**
 * Who may call each RPC: the one table the role middleware (api/role-middleware.ts) enforces. Every
 * RPC of proto/laneway/v1 has an entry (a unit test reads the .proto files and fails on a missing
 * one; the middleware refuses to serve a laneway.v1 method without one).
 *
 * - `viewer`, `operator`, `admin`: the least role that may call it; the admin token acts as `admin`.
 *   A viewer reads everything but secrets; an operator also drains and resumes servers, invokes,
 *   retries jobs, pauses, resumes and runs schedules, and tests connections; an admin does the rest.
 * - `server`: a data-plane server's join token only (Sync checks it itself).
 * - `mirror`: another site's mirror token only (Pull, HandOver, StepDown check it themselves).
 * - `anyone`: no token needed (Login: it is how a user gets one).
 *
 * Borderline calls:
 * - GetJoinToken, CreateMirrorToken: admin. They hand out a credential.
 * - ConfigService/Export: admin. With `secrets_key` the bundle carries the cluster's secrets encrypted
 *   under a key the caller chose, i.e. readable by the caller; the table is per RPC, so Export is
 *   admin whatever the request. A viewer reads the same configuration, without secrets, through the
 *   Get/List/Describe calls.
 * - GetConnection, GetSecurityDefinition: viewer. Their answers never hold a secret (only `*_set`).
 * - GetJob, ListFailedJobs: viewer. Job inputs and outputs are data, not credentials.
 * - ListAuditRecords: viewer. Records hold who/what/when, never a body, a secret or a token.
 * - ListUsers: admin (user administration), though it reveals no secret.
 * - SetPassword, CreateToken, ListTokens, RevokeToken: viewer, because every user manages their own
 *   password and tokens; the handlers let only an admin name another user (or another user's token).
 */
export type CallerRule = RoleName | 'server' | 'mirror' | 'anyone';

export const RPC_ROLES: Readonly<Record<string, CallerRule>> = {
  '/laneway.v1.ClusterService/CreateCluster': 'admin',
  '/laneway.v1.ClusterService/GetCluster': 'viewer',
  '/laneway.v1.ClusterService/ListClusters': 'viewer',
  '/laneway.v1.ClusterService/DeleteCluster': 'admin',
  '/laneway.v1.ClusterService/GetJoinToken': 'admin',
  '/laneway.v1.ClusterService/RotateJoinToken': 'admin',

  '/laneway.v1.DeployService/Deploy': 'admin',
  '/laneway.v1.DeployService/ListServices': 'viewer',
  '/laneway.v1.DeployService/Undeploy': 'admin',
  '/laneway.v1.DeployService/Rollback': 'admin',
  '/laneway.v1.DeployService/ListServiceVersions': 'viewer',
  '/laneway.v1.DeployService/GetDeploymentStatus': 'viewer',

  '/laneway.v1.InvokeService/Invoke': 'operator',
  '/laneway.v1.InvokeService/InvokeAsync': 'operator',
  '/laneway.v1.InvokeService/GetJob': 'viewer',
  '/laneway.v1.InvokeService/ListFailedJobs': 'viewer',
  '/laneway.v1.InvokeService/RetryJob': 'operator',

  '/laneway.v1.ServerService/ListServers': 'viewer',
  '/laneway.v1.ServerService/DrainServer': 'operator',
  '/laneway.v1.ServerService/ResumeServer': 'operator',
  '/laneway.v1.ServerService/RemoveServer': 'admin',
  '/laneway.v1.ServerService/GetTraffic': 'viewer',

  '/laneway.v1.ChannelService/CreateChannel': 'admin',
  '/laneway.v1.ChannelService/UpdateChannel': 'admin',
  '/laneway.v1.ChannelService/DescribeChannel': 'viewer',
  '/laneway.v1.ChannelService/ListChannels': 'viewer',
  '/laneway.v1.ChannelService/DeleteChannel': 'admin',

  '/laneway.v1.SecurityService/CreateSecurityDefinition': 'admin',
  '/laneway.v1.SecurityService/UpdateSecurityDefinition': 'admin',
  '/laneway.v1.SecurityService/GetSecurityDefinition': 'viewer',
  '/laneway.v1.SecurityService/ListSecurityDefinitions': 'viewer',
  '/laneway.v1.SecurityService/DeleteSecurityDefinition': 'admin',

  '/laneway.v1.ConnectionService/CreateConnection': 'admin',
  '/laneway.v1.ConnectionService/UpdateConnection': 'admin',
  '/laneway.v1.ConnectionService/GetConnection': 'viewer',
  '/laneway.v1.ConnectionService/ListConnections': 'viewer',
  '/laneway.v1.ConnectionService/DeleteConnection': 'admin',
  '/laneway.v1.ConnectionService/TestConnection': 'operator',

  '/laneway.v1.ScheduleService/CreateSchedule': 'admin',
  '/laneway.v1.ScheduleService/UpdateSchedule': 'admin',
  '/laneway.v1.ScheduleService/GetSchedule': 'viewer',
  '/laneway.v1.ScheduleService/ListSchedules': 'viewer',
  '/laneway.v1.ScheduleService/DeleteSchedule': 'admin',
  '/laneway.v1.ScheduleService/PauseSchedule': 'operator',
  '/laneway.v1.ScheduleService/ResumeSchedule': 'operator',
  '/laneway.v1.ScheduleService/RunScheduleNow': 'operator',
  '/laneway.v1.ScheduleService/ListScheduleRuns': 'viewer',

  '/laneway.v1.SecretService/RotateSecretKey': 'admin',

  '/laneway.v1.ConfigService/Export': 'admin',
  '/laneway.v1.ConfigService/Apply': 'admin',

  '/laneway.v1.SyncService/Sync': 'server',

  '/laneway.v1.AuditService/ListAuditRecords': 'viewer',

  '/laneway.v1.MirrorService/CreateMirrorToken': 'admin',
  '/laneway.v1.MirrorService/Follow': 'admin',
  '/laneway.v1.MirrorService/GetMirrorStatus': 'viewer',
  '/laneway.v1.MirrorService/Promote': 'admin',
  '/laneway.v1.MirrorService/Pull': 'mirror',
  '/laneway.v1.MirrorService/HandOver': 'mirror',
  '/laneway.v1.MirrorService/StepDown': 'mirror',

  '/laneway.v1.UserService/CreateUser': 'admin',
  '/laneway.v1.UserService/ListUsers': 'admin',
  '/laneway.v1.UserService/DeleteUser': 'admin',
  '/laneway.v1.UserService/SetPassword': 'viewer',
  '/laneway.v1.UserService/SetRole': 'admin',
  '/laneway.v1.UserService/CreateToken': 'viewer',
  '/laneway.v1.UserService/ListTokens': 'viewer',
  '/laneway.v1.UserService/RevokeToken': 'viewer',
  '/laneway.v1.UserService/Login': 'anyone',
};

const RANK: Record<RoleName, number> = { viewer: 1, operator: 2, admin: 3 };

/** Whether `role` is at least `least`. */
export function roleAtLeast(role: RoleName, least: RoleName): boolean {
  return RANK[role] >= RANK[least];
}

/**
 * The rule of a method by its short name (what the handlers' own check is given, e.g. 'Deploy'): the
 * strictest rule of any RPC of that name, `admin` for a name the table does not know.
 */
export function ruleOfMethodName(method: string): CallerRule {
  let found: CallerRule | undefined;
  for (const [path, rule] of Object.entries(RPC_ROLES)) {
    if (path.slice(path.lastIndexOf('/') + 1) !== method) continue;
    if (found === undefined || strictness(rule) > strictness(found)) found = rule;
  }
  return found ?? 'admin';
}

function strictness(rule: CallerRule): number {
  return rule === 'viewer' || rule === 'operator' || rule === 'admin' ? RANK[rule] : rule === 'anyone' ? 0 : 4;
}
