import { Redis } from 'ioredis';

/**
 * Deletes every key under a test's queue prefix in the machine's Redis (which outlives the test): the
 * lane queues' keys and the schedules' repeat jobs a control plane wrote there. Apps may not import
 * @laneway/testkit (scope:testing), whose cleanRedisPrefix does the same for the e2e tests.
 */
export async function deleteRedisPrefix(prefix: string, url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
