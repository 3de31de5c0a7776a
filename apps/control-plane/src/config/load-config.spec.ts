import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, LIMIT_VARIABLES } from '../limits';
import { loadConfig } from './load-config';

describe('control-plane loadConfig', () => {
  it('applies the documented defaults, limits included', () => {
    const config = loadConfig({});

    expect(config).toEqual({
      grpcAddress: '127.0.0.1:50051',
      httpAddress: { host: '127.0.0.1', port: 8090 },
      databaseUrl: undefined,
      dataDir: path.resolve('./.laneway'),
      redisUrl: 'redis://127.0.0.1:6379',
      redis: { mode: 'single', url: 'redis://127.0.0.1:6379', waitReplicas: undefined },
      queuePrefix: 'laneway',
      adminToken: undefined,
      logLevel: 'info',
      logFormat: 'auto',
      scheduleCheckMs: 30_000,
      tls: { mode: 'plaintext', insecure: false },
      limits: DEFAULT_LIMITS,
      compile: { workers: Math.min(2, os.availableParallelism()), maxHeapMb: 512, loadTimeoutMs: 2000 },
    });
    expect(config.limits).toEqual({
      maxDeployFiles: 10_000,
      maxFileBytes: 4 * 1024 * 1024,
      maxDeployBytes: 64 * 1024 * 1024,
      maxPathLength: 1024,
      maxInvokeInputBytes: 1024 * 1024,
      maxInvokeInputDepth: 256,
      maxNameLength: 200,
      maxTimeoutMs: 900_000,
      maxListLimit: 10_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
  });

  it('reads LANEWAY_LOG_FORMAT: pretty, json, or auto (unset or empty: by whether stdout is a terminal)', () => {
    expect(loadConfig({ LANEWAY_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ LANEWAY_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ LANEWAY_LOG_FORMAT: 'auto' }).logFormat).toBe('auto');
    expect(loadConfig({ LANEWAY_LOG_FORMAT: '' }).logFormat).toBe('auto');
    expect(() => loadConfig({ LANEWAY_LOG_FORMAT: 'colour' })).toThrow(
      /invalid control-plane configuration: LANEWAY_LOG_FORMAT="colour": .*"pretty".*"json"/,
    );
  });

  it('reads LANEWAY_HTTP_ADDR: HOST:PORT (port 0 any, empty host every interface), or off for no listener', () => {
    expect(loadConfig({ LANEWAY_HTTP_ADDR: '127.0.0.1:0' }).httpAddress).toEqual({ host: '127.0.0.1', port: 0 });
    expect(loadConfig({ LANEWAY_HTTP_ADDR: ':9100' }).httpAddress).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(loadConfig({ LANEWAY_HTTP_ADDR: '[::1]:9100' }).httpAddress).toEqual({ host: '::1', port: 9100 });
    expect(loadConfig({ LANEWAY_HTTP_ADDR: 'off' }).httpAddress).toBeUndefined();
    expect(() => loadConfig({ LANEWAY_HTTP_ADDR: '8090' })).toThrow(/invalid control-plane configuration: LANEWAY_HTTP_ADDR="8090": must be HOST:PORT/);
  });

  it('reads LANEWAY_SCHEDULE_CHECK_MS, and refuses one that is not a whole number of ms from 100 to an hour', () => {
    expect(loadConfig({ LANEWAY_SCHEDULE_CHECK_MS: '500' }).scheduleCheckMs).toBe(500);
    expect(() => loadConfig({ LANEWAY_SCHEDULE_CHECK_MS: '10' })).toThrow(/invalid control-plane configuration: LANEWAY_SCHEDULE_CHECK_MS="10": .*100/);
    expect(() => loadConfig({ LANEWAY_SCHEDULE_CHECK_MS: 'often' })).toThrow(/LANEWAY_SCHEDULE_CHECK_MS="often"/);
  });

  it('reads every limit from its variable; empty means the default', () => {
    const env = Object.fromEntries(
      Object.values(LIMIT_VARIABLES).map((variable, n) => [variable, String(100 + n)]),
    );

    const { limits } = loadConfig(env);

    expect(Object.keys(limits).sort()).toEqual(Object.keys(LIMIT_VARIABLES).sort());
    Object.entries(LIMIT_VARIABLES).forEach(([key, variable]) => {
      expect(limits[key as keyof typeof limits], variable).toBe(Number(env[variable]));
    });
    expect(
      loadConfig({ LANEWAY_MAX_DEPLOY_FILES: '', LANEWAY_MAX_NAME_LENGTH: ' 300 ' }).limits,
    ).toMatchObject({
      maxDeployFiles: DEFAULT_LIMITS.maxDeployFiles,
      maxNameLength: 300,
    });
  });

  it.each([
    ['LANEWAY_MAX_DEPLOY_FILES', 'many', 'must be a whole number (digits only)'],
    ['LANEWAY_MAX_FILE_BYTES', '4MiB', 'must be a whole number (digits only)'],
    ['LANEWAY_MAX_DEPLOY_BYTES', '1.5', 'must be a whole number (digits only)'],
    ['LANEWAY_MAX_PATH_LENGTH', '-1', 'must be a whole number (digits only)'],
    ['LANEWAY_MAX_INVOKE_INPUT_BYTES', '0', 'must be at least 1'],
    ['LANEWAY_MAX_INVOKE_INPUT_DEPTH', '5000', 'must be at most 1024'],
    ['LANEWAY_MAX_NAME_LENGTH', '0x10', 'must be a whole number (digits only)'],
    ['LANEWAY_MAX_TIMEOUT_MS', '4294967295', 'must be at most 86400000'],
    ['LANEWAY_MAX_LIST_LIMIT', 'Infinity', 'must be a whole number (digits only)'],
  ])('refuses %s=%j, naming the variable, the value and the rule', (variable, value, rule) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(
      `invalid control-plane configuration: ${variable}=${JSON.stringify(value)}: ${rule}`,
    );
  });

  it('names every bad variable at once', () => {
    expect(() =>
      loadConfig({ REDIS_URL: 'localhost:6379', LANEWAY_MAX_DEPLOY_FILES: 'x', LANEWAY_MAX_TIMEOUT_MS: '0' }),
    ).toThrow(
      'invalid control-plane configuration: LANEWAY_MAX_DEPLOY_FILES="x": must be a whole number (digits only); LANEWAY_MAX_TIMEOUT_MS="0": must be at least 1; ' +
        'REDIS_URL="localhost:6379": must be a redis:// URL',
    );
  });

  it('takes a Redis Cluster or Sentinel instead of REDIS_URL, and refuses two modes at once naming both', () => {
    expect(loadConfig({ LANEWAY_REDIS_CLUSTER: '127.0.0.1:7000,127.0.0.1:7001' })).toMatchObject({
      redisUrl: '',
      redis: { mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }] },
    });
    expect(loadConfig({ LANEWAY_REDIS_SENTINELS: '127.0.0.1:26379', LANEWAY_REDIS_SENTINEL_MASTER: 'lw' }).redis).toMatchObject({ mode: 'sentinel', master: 'lw' });
    expect(() => loadConfig({ REDIS_URL: 'redis://a:6379', LANEWAY_REDIS_SENTINELS: 'b:26379', LANEWAY_REDIS_SENTINEL_MASTER: 'lw' })).toThrow(
      'invalid control-plane configuration: REDIS_URL="redis://a:6379" and LANEWAY_REDIS_SENTINELS="b:26379": more than one Redis mode is set',
    );
  });

  it('takes LANEWAY_SECRET_KEY and LANEWAY_SECRET_KEY_PREVIOUS, and refuses a malformed key naming the variable, never its value', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ LANEWAY_SECRET_KEY: ` ${key} `, LANEWAY_SECRET_KEY_PREVIOUS: key })).toMatchObject({ secretKey: key, previousSecretKeys: key });
    expect(loadConfig({ LANEWAY_SECRET_KEY: '' }).secretKey).toBeUndefined();
    const short = Buffer.alloc(31, 9).toString('base64');
    for (const variable of ['LANEWAY_SECRET_KEY', 'LANEWAY_SECRET_KEY_PREVIOUS']) {
      const env = { LANEWAY_SECRET_KEY: key, [variable]: short };
      expect(() => loadConfig(env)).toThrow(`invalid control-plane configuration: ${variable} decodes to 31 bytes; an AES-256 key is 32 bytes`);
      expect(() => loadConfig(env)).not.toThrow(short);
    }
  });
});
