import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config';

describe('server loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      controlPlane: '127.0.0.1:50051',
      cluster: 'default',
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'laneway',
      httpAddress: undefined,
      networkConcurrency: 200,
      loadTimeoutMs: 2000,
      loadMaxHeapMb: 512,
    });
    expect(config.serverName).toMatch(new RegExp(`-${process.pid}$`));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads LANEWAY_LOG_FORMAT: pretty, json, or auto (unset or empty: by whether stdout is a terminal)', () => {
    expect(loadConfig({}).logFormat).toBe('auto');
    expect(loadConfig({ LANEWAY_LOG_FORMAT: '' }).logFormat).toBe('auto');
    expect(loadConfig({ LANEWAY_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ LANEWAY_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => loadConfig({ LANEWAY_LOG_FORMAT: 'PRETTY' })).toThrow(
      /invalid server configuration: LANEWAY_LOG_FORMAT="PRETTY": .*"pretty".*"json"/,
    );
  });

  it('names every bad variable with its value', () => {
    expect(() => loadConfig({ LANEWAY_CLUSTER: 'Bad Name', REDIS_URL: 'localhost:6379' })).toThrow(
      /LANEWAY_CLUSTER="Bad Name": not a valid cluster name; REDIS_URL="localhost:6379": must be a redis:\/\/ URL/,
    );
  });

  it('reads the load bounds', () => {
    expect(loadConfig({ LANEWAY_LOAD_TIMEOUT_MS: '500', LANEWAY_LOAD_MAX_HEAP_MB: '64' })).toMatchObject({ loadTimeoutMs: 500, loadMaxHeapMb: 64 });
    expect(() => loadConfig({ LANEWAY_LOAD_TIMEOUT_MS: '0' })).toThrow(/LANEWAY_LOAD_TIMEOUT_MS="0"/);
    expect(loadConfig({ LANEWAY_LOAD_MAX_HEAP_MB: '0' }).loadMaxHeapMb).toBe(0);
    expect(() => loadConfig({ LANEWAY_LOAD_MAX_HEAP_MB: '8' })).toThrow(/LANEWAY_LOAD_MAX_HEAP_MB="8": 0 \(no load-check thread\) or at least 16/);
  });

  it('reads LANEWAY_TLS_CA as an absolute path; unset or empty is plaintext', () => {
    expect(loadConfig({}).tlsCaFile).toBeUndefined();
    expect(loadConfig({ LANEWAY_TLS_CA: ' ' }).tlsCaFile).toBeUndefined();
    expect(loadConfig({ LANEWAY_TLS_CA: 'certs/ca.pem' }).tlsCaFile).toBe(path.resolve('certs/ca.pem'));
  });

  it('reads LANEWAY_CPU_SCHED: idle (default) or nice', () => {
    expect(loadConfig({}).cpuSched).toBe('idle');
    expect(loadConfig({ LANEWAY_CPU_SCHED: 'nice' }).cpuSched).toBe('nice');
    expect(() => loadConfig({ LANEWAY_CPU_SCHED: 'fifo' })).toThrow(/LANEWAY_CPU_SCHED="fifo": .*"idle".*"nice"/);
  });

  it('parses the health address', () => {
    expect(loadConfig({ LANEWAY_HTTP_ADDR: '127.0.0.1:8080' }).httpAddress).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('reads the HTTP front door limits', () => {
    expect(loadConfig({})).toMatchObject({ httpMaxInFlight: 1000, httpMaxBodyBytes: 1048576, httpRequestTimeoutMs: 30_000, httpMaxHeaderBytes: 16384 });
    expect(loadConfig({ LANEWAY_HTTP_MAX_IN_FLIGHT: '5', LANEWAY_HTTP_MAX_BODY_BYTES: '10' })).toMatchObject({ httpMaxInFlight: 5, httpMaxBodyBytes: 10 });
    expect(() => loadConfig({ LANEWAY_HTTP_MAX_IN_FLIGHT: '0' })).toThrow(/LANEWAY_HTTP_MAX_IN_FLIGHT="0"/);
  });
});
