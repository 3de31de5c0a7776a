/**
 * Everything the CLI prints, as pure functions of the responses (no I/O, no gRPC), so the output can
 * be unit tested. Each returns text without a trailing newline.
 */
import { ApplyOutcome, Lane } from '@laneway/proto';
import type {
  Cluster,
  DeployResponse,
  ListClustersResponse,
  ListServersResponse,
  ListServicesResponse,
  ServerApplyResult,
  ServiceError,
  UndeployResponse,
} from '@laneway/proto';

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

export function formatServiceError(error: ServiceError): string {
  return error.service ? `${error.service}: ${error.message}` : error.message;
}

/** The revision, one line per service, then what each server did. */
export function formatDeploy(response: DeployResponse, options: { waited: boolean }): string {
  const out = [`revision ${response.revision}`];
  if (response.services.length === 0) {
    out.push('services: none');
  } else {
    out.push('services:');
    out.push(
      formatTable(
        response.services.map((s) => [
          s.name,
          shortVersion(s.version),
          laneName(s.lane),
          s.changed ? 'changed' : 'unchanged',
        ]),
        '  ',
      ),
    );
  }
  out.push(formatServerResults(response.servers, options.waited));
  return out.join('\n');
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

export function formatServers(response: ListServersResponse, cluster: string): string {
  if (response.servers.length === 0) return `no servers in cluster '${cluster}'`;
  return formatTable([
    ['NAME', 'CONNECTED', 'APPLIED REVISION', 'LANES', 'LAST SEEN', 'LAST NACK'],
    ...response.servers.map((s) => [
      s.name,
      s.connected ? 'yes' : 'no',
      String(s.appliedRevision),
      s.lanes.map(laneName).join(',') || '-',
      s.lastSeen || '-',
      s.lastNack.map(formatServiceError).join('; ') || '-',
    ]),
  ]);
}

export function formatClusters(response: ListClustersResponse): string {
  if (response.clusters.length === 0) return 'no clusters';
  return formatTable([
    ['NAME', 'REVISION', 'SERVICES', 'CREATED'],
    ...response.clusters.map((c) => [c.name, String(c.revision), String(c.serviceCount), c.createdAt || '-']),
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

/** `--json`: the response object as the client received it. */
export function formatJson(response: unknown): string {
  return JSON.stringify(response, null, 2);
}
