import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config';

/** The one variable without a default. */
const BASE = { LANEWAY_JOIN_TOKEN: 'lwj_test' };

describe('server loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(BASE);
    expect(config).toMatchObject({
      controlPlanes: ['127.0.0.1:50051'],
      cluster: 'default',
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'laneway',
      httpAddress: { host: '127.0.0.1', port: 8080 },
      joinToken: 'lwj_test',
      networkConcurrency: 200,
      loadTimeoutMs: 2000,
      loadMaxHeapMb: 512,
    });
    expect(config.serverName).toMatch(new RegExp(`-${process.pid}$`));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads LANEWAY_LOG_FORMAT: pretty, json, or auto (unset or empty: by whether stdout is a terminal)', () => {
    expect(loadConfig(BASE).logFormat).toBe('auto');
    expect(loadConfig({ ...BASE, LANEWAY_LOG_FORMAT: '' }).logFormat).toBe('auto');
    expect(loadConfig({ ...BASE, LANEWAY_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ ...BASE, LANEWAY_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => loadConfig({ ...BASE, LANEWAY_LOG_FORMAT: 'PRETTY' })).toThrow(
      /invalid server configuration: LANEWAY_LOG_FORMAT="PRETTY": .*"pretty".*"json"/,
    );
  });

  it('reads LANEWAY_METRICS: on by default, off turns /metrics and the measuring off', () => {
    expect(loadConfig(BASE).metrics).toBe(true);
    expect(loadConfig({ ...BASE, LANEWAY_METRICS: 'on' }).metrics).toBe(true);
    expect(loadConfig({ ...BASE, LANEWAY_METRICS: 'off' }).metrics).toBe(false);
    expect(() => loadConfig({ ...BASE, LANEWAY_METRICS: 'no' })).toThrow(/LANEWAY_METRICS="no": .*"on".*"off"/);
  });

  it('names every bad variable with its value', () => {
    expect(() => loadConfig({ ...BASE, LANEWAY_CLUSTER: 'Bad Name', REDIS_URL: 'localhost:6379' })).toThrow(
      /LANEWAY_CLUSTER="Bad Name": not a valid cluster name; REDIS_URL="localhost:6379": must be a redis:\/\/ URL/,
    );
  });

  it('takes a Redis Cluster or Sentinel instead of REDIS_URL, and refuses what is not HOST:PORT naming the variable and value', () => {
    expect(loadConfig({ ...BASE, LANEWAY_REDIS_CLUSTER: '127.0.0.1:7000' })).toMatchObject({ redisUrl: '', redis: { mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 7000 }] } });
    expect(loadConfig({ ...BASE, LANEWAY_REDIS_SENTINELS: '127.0.0.1:26379', LANEWAY_REDIS_SENTINEL_MASTER: 'lw', LANEWAY_REDIS_WAIT_REPLICAS: '1' }).redis).toEqual({
      mode: 'sentinel',
      sentinels: [{ host: '127.0.0.1', port: 26379 }],
      master: 'lw',
      waitReplicas: { replicas: 1, timeoutMs: 1000 },
    });
    expect(() => loadConfig({ ...BASE, LANEWAY_REDIS_SENTINELS: '127.0.0.1' })).toThrow(
      /^invalid server configuration: LANEWAY_REDIS_SENTINELS="127.0.0.1": "127.0.0.1" is not HOST:PORT .*; LANEWAY_REDIS_SENTINEL_MASTER is not set/,
    );
  });

  it('reads the load bounds', () => {
    expect(loadConfig({ ...BASE, LANEWAY_LOAD_TIMEOUT_MS: '500', LANEWAY_LOAD_MAX_HEAP_MB: '64' })).toMatchObject({ loadTimeoutMs: 500, loadMaxHeapMb: 64 });
    expect(() => loadConfig({ ...BASE, LANEWAY_LOAD_TIMEOUT_MS: '0' })).toThrow(/LANEWAY_LOAD_TIMEOUT_MS="0"/);
    expect(loadConfig({ ...BASE, LANEWAY_LOAD_MAX_HEAP_MB: '0' }).loadMaxHeapMb).toBe(0);
    expect(() => loadConfig({ ...BASE, LANEWAY_LOAD_MAX_HEAP_MB: '8' })).toThrow(/LANEWAY_LOAD_MAX_HEAP_MB="8": 0 \(no load-check thread\) or at least 16/);
  });

  it('reads LANEWAY_TLS_CA as an absolute path; unset or empty is plaintext', () => {
    expect(loadConfig(BASE).tlsCaFile).toBeUndefined();
    expect(loadConfig({ ...BASE, LANEWAY_TLS_CA: ' ' }).tlsCaFile).toBeUndefined();
    expect(loadConfig({ ...BASE, LANEWAY_TLS_CA: 'certs/ca.pem' }).tlsCaFile).toBe(path.resolve('certs/ca.pem'));
  });

  it('reads LANEWAY_CPU_SCHED: idle (default) or nice', () => {
    expect(loadConfig(BASE).cpuSched).toBe('idle');
    expect(loadConfig({ ...BASE, LANEWAY_CPU_SCHED: 'nice' }).cpuSched).toBe('nice');
    expect(() => loadConfig({ ...BASE, LANEWAY_CPU_SCHED: 'fifo' })).toThrow(/LANEWAY_CPU_SCHED="fifo": .*"idle".*"nice"/);
  });

  it('reads LANEWAY_DEBUG_ADDR (unset: no debug listener; an empty host is loopback)', () => {
    expect(loadConfig(BASE).debugAddress).toBeUndefined();
    expect(loadConfig({ ...BASE, LANEWAY_DEBUG_ADDR: '10.0.0.5:9464' }).debugAddress).toEqual({ host: '10.0.0.5', port: 9464 });
    expect(loadConfig({ ...BASE, LANEWAY_DEBUG_ADDR: ':9464' }).debugAddress).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(() => loadConfig({ ...BASE, LANEWAY_DEBUG_ADDR: 'localhost' })).toThrow(/LANEWAY_DEBUG_ADDR="localhost": must be HOST:PORT/);
  });

  it('parses the channel listener address: HOST:PORT (port 0: any free one), an empty host is every interface, off is none', () => {
    expect(loadConfig({ ...BASE, LANEWAY_HTTP_ADDR: '127.0.0.1:9090' }).httpAddress).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(loadConfig({ ...BASE, LANEWAY_HTTP_ADDR: '127.0.0.1:0' }).httpAddress).toEqual({ host: '127.0.0.1', port: 0 });
    expect(loadConfig({ ...BASE, LANEWAY_HTTP_ADDR: ':8081' }).httpAddress).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(loadConfig({ ...BASE, LANEWAY_HTTP_ADDR: 'off' }).httpAddress).toBeUndefined();
    expect(() => loadConfig({ ...BASE, LANEWAY_HTTP_ADDR: 'localhost' })).toThrow(/LANEWAY_HTTP_ADDR="localhost": must be HOST:PORT .* or off/);
  });

  it('reads LANEWAY_CONTROL_PLANE as a comma-separated list of HOST:PORT, in order', () => {
    expect(loadConfig({ ...BASE, LANEWAY_CONTROL_PLANE: 'cp1.internal:50051' }).controlPlanes).toEqual(['cp1.internal:50051']);
    const config = loadConfig({ ...BASE, LANEWAY_CONTROL_PLANE: ' 10.0.0.2:50051, cp3:7000 ,[::1]:50051' });
    expect(config.controlPlanes).toEqual(['10.0.0.2:50051', 'cp3:7000', '[::1]:50051']);
    expect(Object.isFrozen(config.controlPlanes)).toBe(true);
  });

  it('refuses a LANEWAY_CONTROL_PLANE entry that is not HOST:PORT, naming the variable, its value and the entry', () => {
    const bad: [string, RegExp][] = [
      ['cp1:50051,cp2', /LANEWAY_CONTROL_PLANE="cp1:50051,cp2": entry "cp2" is not HOST:PORT/],
      ['cp1:50051,,cp2:50051', /LANEWAY_CONTROL_PLANE="cp1:50051,,cp2:50051": an empty entry/],
      ['cp1:50051,', /LANEWAY_CONTROL_PLANE="cp1:50051,": an empty entry/],
      ['', /LANEWAY_CONTROL_PLANE="": an empty entry/],
      ['cp1:0', /entry "cp1:0" has port 0, not 1-65535/],
      ['cp1:70000', /entry "cp1:70000" has port 70000, not 1-65535/],
      ['http://cp1:50051', /entry "http:\/\/cp1:50051" is not HOST:PORT/],
      ['cp 1:50051', /entry "cp 1:50051" is not HOST:PORT/],
      ['cp1:50051;cp2:50051', /entry "cp1:50051;cp2:50051" is not HOST:PORT/],
      ['cp1:50051, cp1:50051', /entry "cp1:50051" is listed twice/],
    ];
    for (const [value, message] of bad) {
      expect(() => loadConfig({ ...BASE, LANEWAY_CONTROL_PLANE: value }), value).toThrow(message);
    }
  });

  it('refuses to start without a join token, naming the variable and the command that prints it', () => {
    for (const env of [{}, { LANEWAY_JOIN_TOKEN: '' }, { LANEWAY_JOIN_TOKEN: '  ' }, { LANEWAY_CLUSTER: 'prod' }]) {
      expect(() => loadConfig(env)).toThrow(/LANEWAY_JOIN_TOKEN is not set/);
    }
    expect(() => loadConfig({ LANEWAY_CLUSTER: 'prod' })).toThrow(/npx laneway cluster token prod/);
  });

  it('reads the HTTP front door limits', () => {
    expect(loadConfig(BASE)).toMatchObject({ httpMaxInFlight: 1000, httpMaxBodyBytes: 1048576, httpRequestTimeoutMs: 30_000, httpMaxHeaderBytes: 16384 });
    expect(loadConfig({ ...BASE, LANEWAY_HTTP_MAX_IN_FLIGHT: '5', LANEWAY_HTTP_MAX_BODY_BYTES: '10' })).toMatchObject({ httpMaxInFlight: 5, httpMaxBodyBytes: 10 });
    expect(() => loadConfig({ ...BASE, LANEWAY_HTTP_MAX_IN_FLIGHT: '0' })).toThrow(/LANEWAY_HTTP_MAX_IN_FLIGHT="0"/);
  });
});
