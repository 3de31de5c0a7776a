import { describe, expect, it } from 'vitest';
import { laneQueueName, scheduleKeys } from './queue-keys';
import { redisSettingsFromEnv } from './redis-settings';

const problems = (env: Record<string, string>): string[] => {
  const read = redisSettingsFromEnv(env);
  return 'problems' in read ? read.problems : [];
};

describe('redisSettingsFromEnv', () => {
  it('is one Redis at REDIS_URL, by default the local one', () => {
    expect(redisSettingsFromEnv({})).toEqual({ settings: { mode: 'single', url: 'redis://127.0.0.1:6379', waitReplicas: undefined } });
    expect(redisSettingsFromEnv({ REDIS_URL: 'redis://r:6380/2', LANEWAY_REDIS_CLUSTER: '' })).toEqual({
      settings: { mode: 'single', url: 'redis://r:6380/2', waitReplicas: undefined },
    });
  });

  it('reads a Cluster from its seed nodes and Sentinel from its Sentinels and primary name', () => {
    expect(redisSettingsFromEnv({ LANEWAY_REDIS_CLUSTER: '10.0.0.1:7000, redis-b:7001,[::1]:7002' })).toEqual({
      settings: {
        mode: 'cluster',
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: 'redis-b', port: 7001 },
          { host: '::1', port: 7002 },
        ],
      },
    });
    expect(
      redisSettingsFromEnv({ LANEWAY_REDIS_SENTINELS: '127.0.0.1:26379,127.0.0.1:26380', LANEWAY_REDIS_SENTINEL_MASTER: 'laneway', LANEWAY_REDIS_WAIT_REPLICAS: '1' }),
    ).toEqual({
      settings: {
        mode: 'sentinel',
        sentinels: [
          { host: '127.0.0.1', port: 26379 },
          { host: '127.0.0.1', port: 26380 },
        ],
        master: 'laneway',
        waitReplicas: { replicas: 1, timeoutMs: 1000 },
      },
    });
  });

  it('refuses more than one mode, naming each variable and its value', () => {
    expect(problems({ REDIS_URL: 'redis://a:6379', LANEWAY_REDIS_CLUSTER: 'b:7000' })).toEqual([
      'REDIS_URL="redis://a:6379" and LANEWAY_REDIS_CLUSTER="b:7000": more than one Redis mode is set; set one of REDIS_URL (one Redis), LANEWAY_REDIS_CLUSTER (a Redis Cluster) or LANEWAY_REDIS_SENTINELS with LANEWAY_REDIS_SENTINEL_MASTER (Sentinel)',
    ]);
    expect(problems({ LANEWAY_REDIS_CLUSTER: 'b:7000', LANEWAY_REDIS_SENTINELS: 'c:26379', LANEWAY_REDIS_SENTINEL_MASTER: 'm' })[0]).toMatch(
      /^LANEWAY_REDIS_CLUSTER="b:7000" and LANEWAY_REDIS_SENTINELS="c:26379": more than one Redis mode is set/,
    );
  });

  it('refuses what is not HOST:PORT, a Sentinel setting without the other, and bad WAIT settings', () => {
    expect(problems({ LANEWAY_REDIS_CLUSTER: '10.0.0.1:7000,10.0.0.2' })).toEqual([
      'LANEWAY_REDIS_CLUSTER="10.0.0.1:7000,10.0.0.2": "10.0.0.2" is not HOST:PORT (comma-separated, port 1-65535), e.g. 10.0.0.1:6379,10.0.0.2:6379',
    ]);
    expect(problems({ LANEWAY_REDIS_CLUSTER: 'a:70000' })[0]).toMatch(/^LANEWAY_REDIS_CLUSTER="a:70000": "a:70000" is not HOST:PORT/);
    expect(problems({ LANEWAY_REDIS_SENTINELS: 'a:26379' })).toEqual([expect.stringMatching(/^LANEWAY_REDIS_SENTINEL_MASTER is not set: with LANEWAY_REDIS_SENTINELS/)]);
    expect(problems({ LANEWAY_REDIS_SENTINEL_MASTER: 'm' })).toEqual(['LANEWAY_REDIS_SENTINEL_MASTER="m": only used with LANEWAY_REDIS_SENTINELS, which is not set']);
    expect(problems({ REDIS_URL: 'localhost:6379' })).toEqual(['REDIS_URL="localhost:6379": must be a redis:// URL']);
    expect(problems({ LANEWAY_REDIS_WAIT_REPLICAS: 'two' })).toEqual(['LANEWAY_REDIS_WAIT_REPLICAS="two": must be a whole number from 0 to 100']);
    expect(problems({ LANEWAY_REDIS_WAIT_REPLICAS: '1', LANEWAY_REDIS_CLUSTER: 'a:7000' })).toEqual([
      'LANEWAY_REDIS_WAIT_REPLICAS="1": not supported with LANEWAY_REDIS_CLUSTER (WAIT covers one primary); unset it',
    ]);
    expect(problems({ LANEWAY_REDIS_WAIT_TIMEOUT_MS: '500' })).toEqual(['LANEWAY_REDIS_WAIT_TIMEOUT_MS="500": only used with LANEWAY_REDIS_WAIT_REPLICAS of 1 or more']);
  });
});

describe('Cluster-safe key names', () => {
  /** The part of a key Redis Cluster hashes: the first non-empty `{...}`, else the whole key. */
  const hashed = (key: string): string => {
    const open = key.indexOf('{');
    const close = open < 0 ? -1 : key.indexOf('}', open + 1);
    return close > open + 1 ? key.slice(open + 1, close) : key;
  };

  it("gives every key of one lane queue (BullMQ's prefix:queue:suffix) one hash tag, and the two lanes different ones", () => {
    const network = laneQueueName('orders', 'network');
    const tags = new Set(['wait', 'active', 'meta', 'events', 'repeat', 'job-1', 'repeat:schedule.x:1700000000000'].map((suffix) => hashed(`laneway:${network}:${suffix}`)));
    expect([...tags]).toEqual(['orders.network']);
    expect(hashed(`laneway:${laneQueueName('orders', 'cpu')}:wait`)).toBe('orders.cpu');
  });

  it("gives a schedule's run keys one hash tag", () => {
    const keys = scheduleKeys('laneway', 'orders', 'nightly');
    expect(new Set([keys.runs, keys.run, keys.lock].map(hashed))).toEqual(new Set(['orders:nightly']));
  });
});
