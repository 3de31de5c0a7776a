import type { RedisConnection } from '@laneway/proto';
import { redis } from '../drivers';
import type { ConnectionInfo } from '../connection-info';
import { redisOptions } from './redis-backend';

/** Opens a fresh connection (no retries), sends PING and closes it. */
export async function probeRedis(spec: RedisConnection, info: ConnectionInfo, timeoutMs: number): Promise<void> {
  const client = new (redis().Redis)(spec.url, {
    ...redisOptions(spec, info),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await client.connect().catch((err: unknown) => {
      throw lastError ?? err;
    });
    await client.ping();
  } finally {
    client.disconnect();
  }
}
