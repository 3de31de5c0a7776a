/**
 * The server's apply path end to end, without a control plane: an in-test SyncService on 127.0.0.1
 * pushes sets of services and records the ACKs and NACKs; the server runs with its real threads
 * against the local Redis, and the services are invoked through their lane queues.
 */
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LaneClient } from '@laneway/lanes';
import { Lane, SyncServiceService, type ServiceSpec, type SyncRequest, type SyncResponse } from '@laneway/proto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config/load-config';
import { startServer, type RunningServer } from './server';
import { buildThreadEntry } from './testing/build-thread-entry';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const service = (name: string, version: string, lane: 'network' | 'cpu', body = ''): ServiceSpec => ({
  name,
  version,
  lane: lane === 'cpu' ? Lane.LANE_CPU : Lane.LANE_NETWORK,
  path: `${name}.js`,
  code: `${body}\nexports.default = require('@laneway/sdk').defineService({ name: '${name}', lane: '${lane}', handle: () => '${version}' });`,
  policy: { timeoutMs: 0, attempts: 0, concurrency: 0 },
  connections: [],
});
const HOG = 'const kept = []; for (;;) kept.push(new Array(2_000_000).fill(1));';

describe('startServer applying pushes from a sync stream', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-server-'));
  const cluster = `srv${randomUUID().slice(0, 8)}`;
  const prefix = `lwtest-${randomUUID().slice(0, 8)}`;
  const grpc = new Server();
  const streams: ServerDuplexStream<SyncRequest, SyncResponse>[] = [];
  const received: SyncRequest[] = [];
  const waiters: (() => void)[] = [];
  let running: RunningServer;
  let lanes: LaneClient;

  beforeAll(async () => {
    await Promise.all([
      buildThreadEntry('cpu/cpu-worker.ts', path.join(dir, 'cpu-worker.js')),
      buildThreadEntry('load/load-check-worker.ts', path.join(dir, 'load-check-worker.js')),
    ]);
    grpc.addService(SyncServiceService, {
      sync: (call: ServerDuplexStream<SyncRequest, SyncResponse>) => {
        streams.push(call);
        call.on('data', (request: SyncRequest) => {
          received.push(request);
          for (const wake of waiters.splice(0)) wake();
        });
        call.on('error', () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    const config = loadConfig({
      LANEWAY_CONTROL_PLANE: `127.0.0.1:${port}`,
      LANEWAY_CLUSTER: cluster,
      LANEWAY_SERVER_NAME: 's1',
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: 'lwj_test',
      LANEWAY_HTTP_ADDR: '127.0.0.1:0',
      REDIS_URL: redisUrl,
      LANEWAY_CPU_THREADS: '1',
      // CPU threads stop at twice this: 64 MB.
      LANEWAY_CPU_THREAD_MAX_HEAP_MB: '32',
      LANEWAY_LOAD_TIMEOUT_MS: '1000',
      LANEWAY_LOAD_MAX_HEAP_MB: '64',
      LANEWAY_SHUTDOWN_TIMEOUT_MS: '2000',
      LANEWAY_DEBUG_ADDR: '127.0.0.1:0',
    });
    running = await startServer(config, pino({ level: 'silent' }), {
      cpuWorkerPath: path.join(dir, 'cpu-worker.js'),
      loadCheckWorkerPath: path.join(dir, 'load-check-worker.js'),
    });
    lanes = new LaneClient({ redis: redisUrl, prefix });
  });

  afterAll(async () => {
    await running?.close();
    await lanes?.close();
    grpc.forceShutdown();
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The first request received from position `from` on that matches. */
  const request = async (from: number, match: (r: SyncRequest) => boolean): Promise<SyncRequest> => {
    const end = Date.now() + 20_000;
    for (;;) {
      const found = received.slice(from).find(match);
      if (found) return found;
      if (Date.now() > end) throw new Error('no such request in time');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };

  let revision = 0;
  /** Pushes a delta on the one stream and returns the server's answer to it. */
  const push = async (
    services: ServiceSpec[],
    full = false,
    resources: Pick<SyncResponse, 'resources' | 'removedResources'> = { resources: [], removedResources: [] },
    drained = false,
  ): Promise<SyncRequest> => {
    const nonce = randomUUID();
    const from = received.length;
    streams[0]!.write({ revision: ++revision, nonce, full, services, removed: [], drained, connectionTest: undefined, ...resources });
    return request(from, (r) => r.ack?.nonce === nonce || r.nack?.nonce === nonce);
  };

  const invoke = async (name: string, lane: 'network' | 'cpu'): Promise<unknown> =>
    (await lanes.invoke({ cluster, lane, service: name, input: null, timeoutMs: 10_000 })).output;

  it('NACKs code that throws, recurses without end, loops or exhausts the heap on either lane, naming it, and keeps serving', async () => {
    const hello = await request(0, (r) => r.hello !== undefined);
    expect(hello.hello).toMatchObject({ cluster, server: 's1', appliedRevision: 0 });
    expect(await push([service('net.a', 'a1', 'network'), service('cpu.c', 'c1', 'cpu')], true)).toMatchObject({ ack: { revision: 1 } });
    expect(await invoke('net.a', 'network')).toBe('a1');

    const network = await push([
      service('net.a', 'a2', 'network'),
      service('net.throws', 't1', 'network', 'throw new Error("no config")'),
      service('net.recurses', 'r1', 'network', 'function f() { return f() + 1; }\nf();'),
      service('net.loops', 'l1', 'network', 'for (;;) {}'),
      service('net.hog', 'h1', 'network', HOG),
    ]);
    expect(network.nack).toMatchObject({ revision: 2 });
    expect(network.nack!.errors).toEqual([
      { service: 'net.throws', kind: '', message: 'net.throws.js: loading failed: no config' },
      { service: 'net.recurses', kind: '', message: 'net.recurses.js: loading failed: Maximum call stack size exceeded' },
      { service: 'net.loops', kind: '', message: 'net.loops.js: top-level code ran past 1000 ms (LANEWAY_LOAD_TIMEOUT_MS)' },
      { service: 'net.hog', kind: '', message: expect.stringMatching(/^net\.hog\.js: loading used .*64 MB.*\(LANEWAY_LOAD_MAX_HEAP_MB\)/) },
    ]);
    expect(running.registry.revision).toBe(1);
    expect(await invoke('net.a', 'network')).toBe('a1');

    const cpuLoops = await push([service('cpu.c', 'c2', 'cpu'), service('cpu.loops', 'l2', 'cpu', 'for (;;) {}')]);
    expect(cpuLoops.nack).toMatchObject({ revision: 3, errors: [{ service: 'cpu.loops', kind: '', message: 'cpu.loops.js: top-level code ran past 1000 ms (LANEWAY_LOAD_TIMEOUT_MS)' }] });
    const cpuHog = await push([service('cpu.c', 'c2', 'cpu'), service('cpu.hog', 'h2', 'cpu', HOG)]);
    expect(cpuHog.nack).toMatchObject({ revision: 4 });
    expect(cpuHog.nack!.errors).toEqual([
      { service: 'cpu.hog', kind: '', message: expect.stringMatching(/^cpu\.hog\.js: loading used .*64 MB.*\(twice LANEWAY_CPU_THREAD_MAX_HEAP_MB\)/) },
    ]);
    expect(running.registry.revision).toBe(1);
    expect(await invoke('cpu.c', 'cpu')).toBe('c1');
    expect(await invoke('net.a', 'network')).toBe('a1');

    // Still on its first stream, and a later good push applies.
    expect(await push([service('net.a', 'a3', 'network'), service('cpu.c', 'c3', 'cpu')])).toMatchObject({ ack: { revision: 5 } });
    expect(running.registry.revision).toBe(5);
    expect(await invoke('net.a', 'network')).toBe('a3');
    expect(await invoke('cpu.c', 'cpu')).toBe('c3');
    expect(streams).toHaveLength(1);
    expect(received.filter((r) => r.hello)).toHaveLength(1);
  });

  it('applies channels with the services of the same push, removes them on a tombstone, and keeps them when the push is NACKed', async () => {
    const route = (path: string) => ({ method: 'GET', path, service: 'net.a', security: '', timeoutMs: 0, async: false, rateLimitPerSecond: 0 });
    const withChannel = await push([service('net.a', 'a4', 'network')], false, {
      resources: [{ kind: 'channel', name: 'get-a', version: 'v1', channel: route('/a/:id') }],
      removedResources: [],
    });
    expect(withChannel).toMatchObject({ ack: { revision } });
    expect(running.resources.ofKind('channel')).toEqual([{ kind: 'channel', name: 'get-a', version: 'v1', spec: route('/a/:id') }]);

    // A push whose service fails to load is rejected whole: its channel change is not applied either.
    const rejected = await push([service('net.broken', 'b1', 'network', 'throw new Error("nope")')], false, {
      resources: [{ kind: 'channel', name: 'get-a', version: 'v2', channel: route('/a/:id/v2') }],
      removedResources: [],
    });
    expect(rejected.nack?.errors).toEqual([{ service: 'net.broken', kind: '', message: 'net.broken.js: loading failed: nope' }]);
    expect(running.resources.ofKind('channel').map((c) => c.version)).toEqual(['v1']);

    expect(await push([], false, { resources: [], removedResources: [{ kind: 'channel', name: 'get-a' }] })).toMatchObject({ ack: { revision } });
    expect(running.resources.ofKind('channel')).toEqual([]);
  });

  it('serves /debug/memory on LANEWAY_DEBUG_ADDR only (not on the public channel listener), and /healthz says when it is drained', async () => {
    const debug = `http://127.0.0.1:${running.debugPort}`;
    const memory = await fetch(`${debug}/debug/memory?gc=1`);
    expect(memory.status).toBe(200);
    expect(await memory.json()).toMatchObject({ rss: expect.any(Number), heapUsed: expect.any(Number), gc: expect.any(Boolean) });
    expect((await fetch(`${debug}/healthz`)).status).toBe(404);
    const post = await fetch(`${debug}/debug/memory`, { method: 'POST' });
    expect({ status: post.status, allow: post.headers.get('allow') }).toEqual({ status: 405, allow: 'GET, HEAD' });
    const public_ = `http://127.0.0.1:${running.httpPort}`;
    expect(running.httpPort).not.toBe(running.debugPort);
    expect((await fetch(`${public_}/debug/memory`)).status).toBe(404);

    expect(await push([], false, undefined, true)).toMatchObject({ ack: { revision } });
    const drained = await fetch(`${public_}/healthz`);
    expect(drained.status).toBe(503);
    expect(await drained.json()).toMatchObject({ status: 'drained', server: 's1' });
    expect(await push([], false, undefined, false)).toMatchObject({ ack: { revision } });
    const serving = await fetch(`${public_}/healthz`);
    expect({ status: serving.status, body: await serving.json() }).toMatchObject({ status: 200, body: { status: 'serving' } });
  });
});
