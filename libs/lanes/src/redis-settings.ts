/** A Redis node or Sentinel as configured: `host:port`. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * After each durable enqueue (async invocation), wait until this many replicas hold it
 * (`LANEWAY_REDIS_WAIT_REPLICAS`, Redis's WAIT), at most `timeoutMs`: an acknowledged job then
 * survives a failover to one of them.
 */
export interface WaitReplicas {
  replicas: number;
  timeoutMs: number;
}

/** Which Redis Laneway's queues live in, and how to reach it: exactly one of three modes. */
export type RedisSettings =
  /** One Redis (REDIS_URL). */
  | { mode: 'single'; url: string; waitReplicas?: WaitReplicas | undefined }
  /** A Redis Cluster, found from its seed nodes (LANEWAY_REDIS_CLUSTER). */
  | { mode: 'cluster'; nodes: readonly RedisNode[] }
  /** A primary and its replicas watched by Sentinels (LANEWAY_REDIS_SENTINELS, LANEWAY_REDIS_SENTINEL_MASTER). */
  | { mode: 'sentinel'; sentinels: readonly RedisNode[]; master: string; waitReplicas?: WaitReplicas | undefined };

/** REDIS_URL when no Redis variable is set. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const DEFAULT_WAIT_TIMEOUT_MS = 1000;

const MODES_HINT =
  'set one of REDIS_URL (one Redis), LANEWAY_REDIS_CLUSTER (a Redis Cluster) or LANEWAY_REDIS_SENTINELS with LANEWAY_REDIS_SENTINEL_MASTER (Sentinel)';

/**
 * Reads the Redis variables (REDIS_URL, LANEWAY_REDIS_CLUSTER, LANEWAY_REDIS_SENTINELS,
 * LANEWAY_REDIS_SENTINEL_MASTER, LANEWAY_REDIS_WAIT_REPLICAS, LANEWAY_REDIS_WAIT_TIMEOUT_MS): the
 * settings, or every problem as `NAME="value": what is wrong`. An empty variable counts as unset.
 */
export function redisSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): { settings: RedisSettings } | { problems: string[] } {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const shown = (name: string): string => `${name}=${JSON.stringify(env[name])}`;
  const problems: string[] = [];
  const url = get('REDIS_URL');
  const cluster = get('LANEWAY_REDIS_CLUSTER');
  const sentinels = get('LANEWAY_REDIS_SENTINELS');
  const master = get('LANEWAY_REDIS_SENTINEL_MASTER');

  const chosen = [url && 'REDIS_URL', cluster && 'LANEWAY_REDIS_CLUSTER', sentinels && 'LANEWAY_REDIS_SENTINELS'].filter((n): n is string => !!n);
  if (chosen.length > 1) problems.push(`${chosen.map(shown).join(' and ')}: more than one Redis mode is set; ${MODES_HINT}`);
  if (url && !/^rediss?:\/\//.test(url)) problems.push(`${shown('REDIS_URL')}: must be a redis:// URL`);
  const clusterNodes = cluster ? parseNodes('LANEWAY_REDIS_CLUSTER', env['LANEWAY_REDIS_CLUSTER']!, problems) : [];
  const sentinelNodes = sentinels ? parseNodes('LANEWAY_REDIS_SENTINELS', env['LANEWAY_REDIS_SENTINELS']!, problems) : [];
  if (sentinels && !master) {
    problems.push(`LANEWAY_REDIS_SENTINEL_MASTER is not set: with LANEWAY_REDIS_SENTINELS it names the primary the Sentinels watch (their 'sentinel monitor NAME ...'), e.g. mymaster`);
  }
  if (master && !sentinels) problems.push(`${shown('LANEWAY_REDIS_SENTINEL_MASTER')}: only used with LANEWAY_REDIS_SENTINELS, which is not set`);
  if (master && !/^[A-Za-z0-9._-]{1,128}$/.test(master)) problems.push(`${shown('LANEWAY_REDIS_SENTINEL_MASTER')}: letters, digits, '.', '-' and '_' only`);

  const replicasText = get('LANEWAY_REDIS_WAIT_REPLICAS');
  const timeoutText = get('LANEWAY_REDIS_WAIT_TIMEOUT_MS');
  let waitReplicas: WaitReplicas | undefined;
  const replicas = replicasText === undefined ? 0 : wholeNumber(replicasText, 0, 100);
  const timeoutMs = timeoutText === undefined ? DEFAULT_WAIT_TIMEOUT_MS : wholeNumber(timeoutText, 1, 600_000);
  if (replicas === undefined) problems.push(`${shown('LANEWAY_REDIS_WAIT_REPLICAS')}: must be a whole number from 0 to 100`);
  if (timeoutMs === undefined) problems.push(`${shown('LANEWAY_REDIS_WAIT_TIMEOUT_MS')}: must be a whole number of milliseconds from 1 to 600000`);
  if (replicas && timeoutMs) {
    // WAIT holds for one connection's writes to one primary; a Cluster spreads them over many.
    if (cluster) problems.push(`${shown('LANEWAY_REDIS_WAIT_REPLICAS')}: not supported with LANEWAY_REDIS_CLUSTER (WAIT covers one primary); unset it`);
    else waitReplicas = { replicas, timeoutMs };
  }
  if (timeoutText !== undefined && !replicas && replicas !== undefined) {
    problems.push(`${shown('LANEWAY_REDIS_WAIT_TIMEOUT_MS')}: only used with LANEWAY_REDIS_WAIT_REPLICAS of 1 or more`);
  }

  if (problems.length) return { problems };
  if (cluster) return { settings: { mode: 'cluster', nodes: clusterNodes } };
  if (sentinels) return { settings: { mode: 'sentinel', sentinels: sentinelNodes, master: master!, waitReplicas } };
  return { settings: { mode: 'single', url: url ?? DEFAULT_REDIS_URL, waitReplicas } };
}

/** The variable an operator set to choose this Redis, for messages ("Redis (REDIS_URL) is unreachable"). */
export function redisVariable(settings: RedisSettings): string {
  return settings.mode === 'single' ? 'REDIS_URL' : settings.mode === 'cluster' ? 'LANEWAY_REDIS_CLUSTER' : 'LANEWAY_REDIS_SENTINELS';
}

function parseNodes(name: string, value: string, problems: string[]): RedisNode[] {
  const nodes: RedisNode[] = [];
  for (const part of value.split(',').map((p) => p.trim())) {
    // host:port, or [v6]:port.
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(part);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      problems.push(`${name}=${JSON.stringify(value)}: ${JSON.stringify(part)} is not HOST:PORT (comma-separated, port 1-65535), e.g. 10.0.0.1:6379,10.0.0.2:6379`);
      continue;
    }
    nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}

function wholeNumber(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}
