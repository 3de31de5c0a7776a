import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '@laneway/proto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Connectors } from './connectors';

const redisSpec = (fields: Partial<RedisConnection>): { redis: RedisConnection } => ({
  redis: { url: 'redis://127.0.0.1:6379', password: '', passwordSet: false, keyPrefix: '', caPem: '', ...fields },
});

describe('Connectors: Redis', () => {
  const plain = new Redis('redis://127.0.0.1:6379');
  const prefix = `lw-test:${randomBytes(5).toString('hex')}:`;

  afterAll(async () => {
    const keys = await plain.keys(`${prefix}*`);
    if (keys.length) await plain.del(...keys);
    await plain.quit();
  });

  it('prefixes keys, shares one client per version and closes the old one after a change', async () => {
    const connectors = new Connectors({ server: 'replica-1', drainTimeoutMs: 5_000 });
    connectors.replace([{ name: 'cache', version: 'v1', spec: redisSpec({ keyPrefix: `${prefix}a:` }) }]);
    try {
      const first = connectors.redis('cache');
      expect(connectors.redis('cache')).toBe(first);
      await first.set('greeting', 'hello');
      await first.pipeline().incr('n').incr('n').exec();
      expect(await plain.get(`${prefix}a:greeting`)).toBe('hello');
      expect(await plain.get(`${prefix}a:n`)).toBe('2');
      expect(await first.get('greeting')).toBe('hello');

      // A command in flight when the settings change still gets its answer on the old client.
      const blocked = first.blpop('list', 1);
      connectors.replace([{ name: 'cache', version: 'v2', spec: redisSpec({ keyPrefix: `${prefix}b:` }) }]);
      const second = connectors.redis('cache');
      expect(second).not.toBe(first);
      await second.set('greeting', 'hi');
      expect(await plain.get(`${prefix}b:greeting`)).toBe('hi');
      await plain.rpush(`${prefix}a:list`, 'item');
      expect(await blocked).toEqual([`${prefix}a:list`, 'item']);
      await connectors.whenDrained();
      expect(first.status).toBe('end');
      expect(second.status).toBe('ready');

      // An unchanged version keeps its client.
      connectors.replace([{ name: 'cache', version: 'v2', spec: redisSpec({ keyPrefix: `${prefix}b:` }) }]);
      expect(connectors.redis('cache')).toBe(second);
    } finally {
      await connectors.close();
    }
  });

  it('test() sends PING, and reports a closed port naming the connection', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([
      { name: 'cache', version: 'v1', spec: redisSpec({}) },
      { name: 'down', version: 'v1', spec: redisSpec({ url: 'redis://127.0.0.1:1/0', password: 'redis-secret-1' }) },
    ]);
    try {
      expect(await connectors.test('cache', 2_000)).toMatchObject({ ok: true });
      const down = await connectors.test('down', 2_000);
      expect(down).toMatchObject({ ok: false, error: expect.stringMatching(/^connection 'down' \(redis redis:\/\/127\.0\.0\.1:1\/0\): connection refused/) });
      expect(!down.ok && down.error).not.toContain('redis-secret-1');
      expect(() => connectors.redis('nope')).toThrow("connection 'nope' is not defined on server 'replica-1'");
      expect(() => connectors.rest('cache')).toThrow("connection 'cache' (redis redis://127.0.0.1:6379) is not a rest connection: use ctx.redis('cache')");
    } finally {
      await connectors.close();
    }
  });
});
