import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisSettings } from './redis-settings';

/** A connection to Laneway's Redis in any mode: one Redis (or Sentinel's current primary), or a Cluster. */
export type RedisClient = Redis | Cluster;

export interface CreateRedisOptions {
  /**
   * Fail fast (a rate limiter's check): while disconnected a command fails at once instead of waiting
   * in the offline queue, is never retried, and fails after this many ms without an answer. Unset:
   * commands wait for the connection and are retried (what BullMQ's queues and workers need).
   */
  failFastMs?: number;
}

/**
 * Opens a connection to Laneway's Redis as `settings` say: the one place the server and the control
 * plane make theirs, so that every mode gets what BullMQ needs (no per-request retry limit for its
 * blocking workers, a ready check), and Sentinel's primary is followed through a failover.
 */
export function createRedis(settings: RedisSettings, options: CreateRedisOptions = {}): RedisClient {
  const failFast = options.failFastMs !== undefined;
  const node: RedisOptions = failFast
    ? { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: options.failFastMs }
    : // BullMQ refuses a worker connection with a retry limit: its blocking commands must wait.
      { maxRetriesPerRequest: null };
  node.enableReadyCheck = true;
  switch (settings.mode) {
    case 'single':
      return new Redis(settings.url, node);
    case 'sentinel':
      return closingItsSentinels(new Redis({
        ...node,
        sentinels: settings.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: settings.master,
        role: 'master',
        // Hear of a switch from the Sentinels (+switch-master) instead of waiting for the old primary to drop us.
        failoverDetector: true,
        sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1000),
        retryStrategy: (times: number) => Math.min(50 * times, 1000),
        // The old primary, demoted, answers writes with READONLY until Sentinel's CLIENT KILL: ask the
        // Sentinels again and resend the command to the new primary.
        reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
      }));
    case 'cluster': {
      const cluster: ClusterOptions = {
        redisOptions: node,
        enableReadyCheck: true,
        enableOfflineQueue: !failFast,
        clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
      };
      return new Cluster(
        settings.nodes.map((n) => ({ host: n.host, port: n.port })),
        cluster,
      );
    }
  }
}

/**
 * ioredis's quit() leaves the failover detector's Sentinel connections open (only disconnect() closes
 * them), which keeps a process alive and reconnecting, and BullMQ closes the connections it duplicates
 * with quit(): once a connection has ended, close its Sentinel connections too, in every duplicate.
 */
function closingItsSentinels(client: Redis): Redis {
  client.once('end', () => client.disconnect());
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override?: Partial<RedisOptions>) => closingItsSentinels(duplicate(override));
  return client;
}

/** The settings of a config built by hand with only `redisUrl` (tests): one Redis. */
export function redisSettingsOf(config: { redis?: RedisSettings | undefined; redisUrl?: string | undefined }): RedisSettings {
  if (config.redis) return config.redis;
  if (config.redisUrl) return { mode: 'single', url: config.redisUrl };
  throw new Error('no Redis settings: neither redis nor redisUrl is set');
}
