/**
 * Everything the CLI prints, as pure functions of the responses (no I/O, no gRPC), so the output can
 * be unit tested. Each returns text without a trailing newline.
 */
import { ApplyOutcome, JobState, Lane } from '@laneway/proto';
import type {
  Channel,
  ChannelChangeResponse,
  Cluster,
  DeployedService,
  DeploymentStatus,
  DeployResponse,
  JobInfo,
  ListChannelsResponse,
  ListClustersResponse,
  ListFailedJobsResponse,
  ListServersResponse,
  ListServicesResponse,
  ListServiceVersionsResponse,
  ListSecurityDefinitionsResponse,
  RollbackResponse,
  SecurityChangeResponse,
  SecurityDefinition,
  ServerApplyResult,
  ServerInfo,
  ServiceError,
  UndeployResponse,
} from '@laneway/proto';
import { toOutputJson } from './json-output';

/** Versions are content hashes; the first 12 characters are enough to tell them apart. */
export function shortVersion(version: string): string {
  return version.slice(0, 12);
}

export function laneName(lane: Lane): string {
  switch (lane) {
    case Lane.LANE_NETWORK:
      return 'network';
    case Lane.LANE_CPU:
      return 'cpu';
    default:
      return 'unspecified';
  }
}

export function outcomeName(outcome: ApplyOutcome): string {
  switch (outcome) {
    case ApplyOutcome.APPLY_OUTCOME_ACKED:
      return 'ACKED';
    case ApplyOutcome.APPLY_OUTCOME_NACKED:
      return 'NACKED';
    case ApplyOutcome.APPLY_OUTCOME_TIMED_OUT:
      return 'TIMED_OUT';
    default:
      return 'UNSPECIFIED';
  }
}

export function jobStateName(state: JobState): string {
  switch (state) {
    case JobState.JOB_STATE_WAITING:
      return 'waiting';
    case JobState.JOB_STATE_ACTIVE:
      return 'active';
    case JobState.JOB_STATE_DELAYED:
      return 'delayed';
    case JobState.JOB_STATE_COMPLETED:
      return 'completed';
    case JobState.JOB_STATE_FAILED:
      return 'failed';
    default:
      return 'unspecified';
  }
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** Rows as columns padded to the widest cell, two spaces apart, without trailing spaces. */
export function formatTable(rows: readonly (readonly string[])[], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

/** The servers that did not apply a change: NACKed, timed out, or anything but ACKED. */
export function failedServers(servers: readonly ServerApplyResult[]): ServerApplyResult[] {
  return servers.filter((s) => s.outcome !== ApplyOutcome.APPLY_OUTCOME_ACKED);
}

/** `servers:` and one line per server (name, outcome, applied revision) with its errors under it. */
export function formatServerResults(servers: readonly ServerApplyResult[], waited: boolean): string {
  if (servers.length === 0) return waited ? 'servers: none connected' : 'servers: not waited for (--no-wait)';
  const rows = servers.map((s) => [
    s.server,
    outcomeName(s.outcome),
    `applied revision ${s.appliedRevision}`,
  ]);
  const lines = formatTable(rows, '  ').split('\n');
  const out = ['servers:'];
  servers.forEach((s, i) => {
    out.push(lines[i] ?? '');
    for (const error of s.errors) out.push(`    ${formatServiceError(error)}`);
  });
  return out.join('\n');
}

/**
 * A warning when servers applied a channel change but none of them has a channel listener
 * (LANEWAY_HTTP_ADDR=off): the channel is stored and pushed, yet no client can call it.
 */
export function formatNoChannelListener(servers: readonly ServerApplyResult[]): string | undefined {
  if (servers.length === 0 || servers.some((s) => s.httpAddress)) return undefined;
  const n = servers.length;
  return `warning: none of the ${n} server${n === 1 ? '' : 's'} that applied this change listens for channels (LANEWAY_HTTP_ADDR=off on ${n === 1 ? 'it' : 'each'}): no client can call it yet`;
}

export function formatServiceError(error: ServiceError): string {
  const name = error.kind ? `${error.kind} ${error.service}` : error.service;
  return name ? `${name}: ${error.message}` : error.message;
}

function deployedServiceRow(s: DeployedService): string[] {
  return [s.name, shortVersion(s.version), laneName(s.lane), s.changed ? 'changed' : 'unchanged'];
}

/** The revision, one line per service, then what each server did. */
export function formatDeploy(response: DeployResponse, options: { waited: boolean }): string {
  const out = [`revision ${response.revision}`];
  if (response.services.length === 0) {
    out.push('services: none');
  } else {
    out.push('services:');
    out.push(formatTable(response.services.map(deployedServiceRow), '  '));
  }
  out.push(formatServerResults(response.servers, options.waited));
  return out.join('\n');
}

/** Like a deploy: the revision, the service's line, then what each server did. */
export function formatRollback(response: RollbackResponse, options: { waited: boolean }): string {
  const service = response.service;
  return [
    `revision ${response.revision}`,
    service ? `service:\n${formatTable([deployedServiceRow(service)], '  ')}` : 'service: none',
    formatServerResults(response.servers, options.waited),
  ].join('\n');
}

export function formatUndeploy(
  name: string,
  response: UndeployResponse,
  options: { waited: boolean },
): string {
  return [
    `undeployed ${name}: revision ${response.revision}`,
    formatServerResults(response.servers, options.waited),
  ].join('\n');
}

/** A channel's request deadline: 0 is the servers' default. */
function channelTimeout(timeoutMs: number): string {
  return timeoutMs > 0 ? `${timeoutMs}ms` : 'default';
}

export function formatChannels(response: ListChannelsResponse, cluster: string): string {
  if (response.channels.length === 0)
    return `no channels in cluster '${cluster}' (revision ${response.revision})`;
  return formatTable([
    ['NAME', 'METHOD', 'PATH', 'SERVICE', 'SECURITY', 'TIMEOUT', 'REVISION'],
    ...response.channels.map((c) => [
      c.name,
      c.method,
      c.path,
      c.service,
      c.security || '-',
      channelTimeout(c.timeoutMs),
      String(c.revision),
    ]),
  ]);
}

/** One channel, field by field. */
export function formatChannel(channel: Channel): string {
  return formatTable([
    ['channel', channel.name],
    ['method', channel.method],
    ['path', channel.path],
    ['service', channel.service],
    ['security', channel.security || 'none (public)'],
    ['timeout', channel.timeoutMs > 0 ? `${channel.timeoutMs}ms` : 'default (30000ms)'],
    [
      'rate limit',
      channel.rateLimitPerSecond > 0 ? `${channel.rateLimitPerSecond}/s per caller` : 'unlimited',
    ],
    ['async', yesNo(channel.async)],
    ['revision', String(channel.revision)],
    ['updated', channel.updatedAt || '-'],
  ]);
}

/**
 * `created channel NAME (GET /path -> service): revision N` (or updated, deleted without the
 * route), then what each server did.
 */
export function formatChannelChange(
  verb: 'created' | 'updated' | 'deleted',
  name: string,
  response: ChannelChangeResponse,
  options: { waited: boolean },
): string {
  const channel = response.channel;
  const route = channel ? ` (${channel.method} ${channel.path} -> ${channel.service})` : '';
  return [
    `${verb} channel ${name}${route}: revision ${response.revision}`,
    formatServerResults(response.servers, options.waited),
  ].join('\n');
}

type SecurityAuth = Pick<SecurityDefinition, 'apiKey' | 'basicAuth' | 'jwt'>;

/** `api-key`, `basic` or `jwt`: the words of the create-* and update-* commands. */
export function securityKind(definition: SecurityAuth): string {
  if (definition.apiKey) return 'api-key';
  if (definition.basicAuth) return 'basic';
  if (definition.jwt) return 'jwt';
  return 'unknown';
}

/** What a definition checks, in a few words: `header x-api-key`, `HS256, issuer any, audience any`. */
function securityChecks(definition: SecurityAuth): string {
  if (definition.apiKey) return `header ${definition.apiKey.header}`;
  if (definition.basicAuth) return `username ${definition.basicAuth.username}`;
  const jwt = definition.jwt;
  if (!jwt) return '-';
  const algorithm = jwt.publicKeyPem ? 'RS256/ES256 public key' : 'HS256';
  return `${algorithm}, issuer ${jwt.issuer || 'any'}, audience ${jwt.audience || 'any'}`;
}

/** Whether the secret is stored: yes or no; '-' for a JWT public key, which holds none. */
function securitySecretSet(definition: SecurityAuth): string {
  if (definition.apiKey) return yesNo(definition.apiKey.keySet);
  if (definition.basicAuth) return yesNo(definition.basicAuth.passwordSet);
  if (definition.jwt) return definition.jwt.publicKeyPem ? '-' : yesNo(definition.jwt.secretSet);
  return '-';
}

export function formatSecurityDefinitions(
  response: ListSecurityDefinitionsResponse,
  cluster: string,
): string {
  if (response.definitions.length === 0) {
    return `no security definitions in cluster '${cluster}' (revision ${response.revision})`;
  }
  return formatTable([
    ['NAME', 'KIND', 'CHECKS', 'SECRET SET', 'REVISION'],
    ...response.definitions.map((d) => [
      d.name,
      securityKind(d),
      securityChecks(d),
      securitySecretSet(d),
      String(d.revision),
    ]),
  ]);
}

/** One security definition, field by field; secrets only as set or not (answers never hold them). */
export function formatSecurityDefinition(definition: SecurityDefinition): string {
  const rows: string[][] = [
    ['security definition', definition.name],
    ['kind', securityKind(definition)],
  ];
  const { apiKey, basicAuth, jwt } = definition;
  if (apiKey) rows.push(['header', apiKey.header], ['key set', yesNo(apiKey.keySet)]);
  if (basicAuth) rows.push(['username', basicAuth.username], ['password set', yesNo(basicAuth.passwordSet)]);
  if (jwt) {
    if (jwt.publicKeyPem) {
      rows.push(['algorithm', 'RS256/ES256'], ['public key', 'PEM (--json shows it)']);
    } else {
      rows.push(['algorithm', 'HS256'], ['secret set', yesNo(jwt.secretSet)]);
    }
    rows.push(['issuer', jwt.issuer || 'any'], ['audience', jwt.audience || 'any']);
  }
  rows.push(['revision', String(definition.revision)], ['updated', definition.updatedAt || '-']);
  return formatTable(rows);
}

/**
 * `created security definition NAME (api-key, header x-api-key): revision N` (or updated, deleted
 * without the checks), then what each server did.
 */
export function formatSecurityChange(
  verb: 'created' | 'updated' | 'deleted',
  name: string,
  response: SecurityChangeResponse,
  options: { waited: boolean },
): string {
  const definition = response.definition;
  const what = definition ? ` (${securityKind(definition)}, ${securityChecks(definition)})` : '';
  return [
    `${verb} security definition ${name}${what}: revision ${response.revision}`,
    formatServerResults(response.servers, options.waited),
  ].join('\n');
}

/** The summary of a change some servers did not apply, for the error line. */
export function formatApplyFailure(
  revision: number,
  servers: readonly ServerApplyResult[],
): string | undefined {
  const failed = failedServers(servers);
  if (failed.length === 0) return undefined;
  const which = failed.map((s) => `${s.server} ${outcomeName(s.outcome)}`).join(', ');
  return `revision ${revision} was not applied by ${failed.length} of ${servers.length} server${servers.length === 1 ? '' : 's'} (${which})`;
}

export function formatServices(response: ListServicesResponse, cluster: string): string {
  if (response.services.length === 0)
    return `no services in cluster '${cluster}' (revision ${response.revision})`;
  return formatTable([
    ['NAME', 'VERSION', 'LANE', 'REVISION', 'UPDATED', 'PATH'],
    ...response.services.map((s) => [
      s.name,
      shortVersion(s.version),
      laneName(s.lane),
      String(s.revision),
      s.updatedAt || '-',
      s.path || '-',
    ]),
  ]);
}

const SERVER_HEADER = ['NAME', 'CONNECTED', 'DRAINED', 'CHANNELS AT', 'APPLIED REVISION', 'LANES', 'LAST SEEN', 'LAST NACK'];

function serverRow(s: ServerInfo): string[] {
  return [
    s.name,
    yesNo(s.connected),
    yesNo(s.drained),
    s.httpAddress || '-',
    String(s.appliedRevision),
    s.lanes.map(laneName).join(',') || '-',
    s.lastSeen || '-',
    s.lastNack.map(formatServiceError).join('; ') || '-',
  ];
}

export function formatServers(response: ListServersResponse, cluster: string): string {
  if (response.servers.length === 0) return `no servers in cluster '${cluster}'`;
  return formatTable([SERVER_HEADER, ...response.servers.map(serverRow)]);
}

/** One server as `servers` shows it: the header and its line. */
export function formatServer(server: ServerInfo): string {
  return formatTable([SERVER_HEADER, serverRow(server)]);
}

/** The desired revision, then where each server stands. */
export function formatDeploymentStatus(status: DeploymentStatus): string {
  const head = `cluster ${status.cluster}: desired revision ${status.desiredRevision}`;
  if (status.servers.length === 0) return `${head}\nno servers in cluster '${status.cluster}'`;
  const table = formatTable([
    ['SERVER', 'CONNECTED', 'DRAINED', 'APPLIED REVISION', 'CONVERGED', 'LAST NACK'],
    ...status.servers.map((s) => [
      s.server,
      yesNo(s.connected),
      yesNo(s.drained),
      String(s.appliedRevision),
      yesNo(s.converged),
      s.lastNack.map(formatServiceError).join('; ') || '-',
    ]),
  ]);
  return `${head}\n${table}`;
}

/** The summary of the connected servers that are not at the desired revision, for the error line. */
export function formatNotConverged(status: DeploymentStatus): string | undefined {
  const connected = status.servers.filter((s) => s.connected);
  const behind = connected.filter((s) => !s.converged);
  if (behind.length === 0) return undefined;
  const which = behind.map((s) => `${s.server} at ${s.appliedRevision}`).join(', ');
  return `${behind.length} of ${connected.length} connected server${connected.length === 1 ? '' : 's'} not converged on revision ${status.desiredRevision} (${which})`;
}

/** Newest first, as the control plane lists them; `*` marks the current version. */
export function formatServiceVersions(response: ListServiceVersionsResponse, service: string): string {
  if (response.versions.length === 0) return `no versions of service '${service}'`;
  return formatTable([
    ['VERSION', 'LANE', 'PATH', 'CREATED', 'CURRENT'],
    ...response.versions.map((v) => [
      shortVersion(v.version),
      laneName(v.lane),
      v.path || '-',
      v.createdAt || '-',
      v.current ? '*' : '',
    ]),
  ]);
}

/** The first line of a failure, so a stack trace does not break a table. */
function firstLine(text: string): string {
  return text.trim().split(/\r?\n/, 1)[0] ?? '';
}

export function formatFailedJobs(
  response: Pick<ListFailedJobsResponse, 'jobs'>,
  filter: { cluster: string; service?: string | undefined },
): string {
  if (response.jobs.length === 0) {
    const of = filter.service ? ` of service '${filter.service}'` : '';
    return `no failed jobs${of} in cluster '${filter.cluster}'`;
  }
  return formatTable([
    ['ID', 'SERVICE', 'ATTEMPTS', 'FAILED REASON', 'FINISHED'],
    ...response.jobs.map((j) => [
      j.jobId,
      j.service,
      String(j.attemptsMade),
      firstLine(j.failedReason) || '-',
      j.finishedAt || '-',
    ]),
  ]);
}

function indent(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : prefix + line))
    .join('\n');
}

/** A job's fields, then its input, its output once it completed, and why it failed. */
export function formatJob(job: JobInfo): string {
  const out = [
    formatTable([
      ['job', job.jobId],
      ['service', job.service],
      ['state', jobStateName(job.state)],
      ['attempts', String(job.attemptsMade)],
      ['created', job.createdAt || '-'],
      ['finished', job.finishedAt || '-'],
    ]),
    'input:',
    indent(formatInvokeOutput(job.inputJson)),
  ];
  if (job.state === JobState.JOB_STATE_COMPLETED || job.outputJson !== '') {
    out.push('output:', indent(formatInvokeOutput(job.outputJson)));
  }
  if (job.failedReason.trim() !== '') out.push('failed reason:', indent(job.failedReason.trimEnd()));
  return out.join('\n');
}

export function formatJobRetried(job: JobInfo): string {
  return `job ${job.jobId} (${job.service}) queued again: ${jobStateName(job.state)}`;
}

export function formatClusters(response: ListClustersResponse): string {
  if (response.clusters.length === 0) return 'no clusters';
  return formatTable([
    ['NAME', 'REVISION', 'SERVICES', 'CREATED'],
    ...response.clusters.map((c) => [c.name, String(c.revision), String(c.serviceCount), c.createdAt || '-']),
  ]);
}

/** One cluster, field by field. */
export function formatCluster(cluster: Cluster): string {
  return formatTable([
    ['cluster', cluster.name],
    ['revision', String(cluster.revision)],
    ['services', String(cluster.serviceCount)],
    ['created', cluster.createdAt || '-'],
  ]);
}

export function formatClusterCreated(cluster: Cluster): string {
  return `created cluster ${cluster.name}`;
}

/** An invocation's output_json, pretty-printed; empty means null; text that is not JSON is kept. */
export function formatInvokeOutput(outputJson: string): string {
  if (outputJson.trim() === '') return 'null';
  try {
    return JSON.stringify(JSON.parse(outputJson) as unknown, null, 2);
  } catch {
    return outputJson;
  }
}

/**
 * `--json`: the response object as the client received it, enum values by name and `…Json` fields
 * as JSON (see json-output.ts).
 */
export function formatJson(response: unknown): string {
  return JSON.stringify(toOutputJson(response), null, 2);
}
