/**
 * The sync agent over real gRPC, with a list of control planes: in-test SyncServices on 127.0.0.1 (and
 * ports nothing listens on) stand for control planes that accept, refuse, or are gone.
 */
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import net from 'node:net';
import { SyncServiceService, type SyncRequest, type SyncResponse } from '@laneway/proto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncAgent } from './sync-agent';

interface Hello {
  address: string;
  appliedRevision: number;
}

/** A SyncService that answers a hello with a push at `revision`, or refuses it with `refuse`. */
interface FakeControlPlane {
  address: string;
  shutdown: () => void;
}

const hellos: Hello[] = [];
const started: FakeControlPlane[] = [];
const agents: SyncAgent[] = [];

async function fakeControlPlane(behaviour: { revision: number } | { refuse: status }): Promise<FakeControlPlane> {
  const server = new Server();
  let address = '';
  server.addService(SyncServiceService, {
    sync: (call: ServerDuplexStream<SyncRequest, SyncResponse>) => {
      call.on('error', () => undefined);
      call.once('data', (request: SyncRequest) => {
        hellos.push({ address, appliedRevision: request.hello?.appliedRevision ?? -1 });
        if ('refuse' in behaviour) {
          call.emit('error', { code: behaviour.refuse, details: 'wrong join token', message: 'wrong join token' });
          return;
        }
        // Up to date: a real control plane sends nothing then.
        if (request.hello?.appliedRevision === behaviour.revision) return;
        call.write({
          revision: behaviour.revision,
          nonce: '1',
          full: true,
          services: [],
          removed: [],
          drained: false,
          resources: [],
          removedResources: [],
          connectionTest: undefined,
        });
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  address = `127.0.0.1:${port}`;
  const fake = { address, shutdown: () => server.forceShutdown() };
  started.push(fake);
  return fake;
}

/** An address nothing listens on (a control plane that is down: connection refused). */
async function deadAddress(): Promise<string> {
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(p));
    });
  });
  return `127.0.0.1:${port}`;
}

function startAgent(addresses: string[], onRefused?: (message: string) => void) {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  let revision = 0;
  const agent = new SyncAgent({
    addresses,
    cluster: 'c1',
    server: 's1',
    host: 'host',
    pid: 1,
    joinToken: 'lwj_test',
    appliedRevision: () => revision,
    onNameConflict: async () => undefined,
    apply: async (update) => {
      revision = update.revision;
      return [];
    },
    ...(onRefused && { onRefused }),
    logger,
  });
  agents.push(agent);
  agent.start();
  return { agent, logs };
}

async function until<T>(read: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('SyncAgent with a list of control planes', () => {
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.stop();
    for (const fake of started.splice(0)) fake.shutdown();
    hellos.length = 0;
  });

  it('moves past an unreachable first address, and to the next control plane when its own dies, resuming from its revision', async () => {
    const dead = await deadAddress();
    const [a, b] = [await fakeControlPlane({ revision: 7 }), await fakeControlPlane({ revision: 7 })];
    const { agent, logs } = startAgent([dead, a!.address, b!.address]);
    await agent.synced;
    expect(hellos).toEqual([{ address: a!.address, appliedRevision: 0 }]);
    await until(() => logs.find((l) => l['msg'] === 'sync stream open'));
    expect(logs.filter((l) => l['msg'] === 'sync stream open').map((l) => l['address'])).toEqual([a!.address]);
    expect(logs.find((l) => l['msg'] === 'sync stream lost; reconnecting')).toMatchObject({ address: dead, next: a!.address, code: status.UNAVAILABLE });

    a!.shutdown();
    const open = await until(() => logs.find((l) => l['msg'] === 'sync stream open' && l['address'] === b!.address));
    // It announced revision 7, so b (up to date) had nothing to send.
    expect(open['appliedRevision']).toBe(7);
    expect(hellos).toEqual([
      { address: a!.address, appliedRevision: 0 },
      { address: b!.address, appliedRevision: 7 },
    ]);
    expect(logs.filter((l) => l['msg'] === 'sync stream lost; reconnecting').at(-1)).toMatchObject({ address: a!.address, next: b!.address });
  });

  it('goes round the list, growing the backoff only after a whole round failed', async () => {
    const dead = [await deadAddress(), await deadAddress()];
    const { logs } = startAgent(dead);
    const lost = await until(() => {
      const lines = logs.filter((l) => l['msg'] === 'sync stream lost; reconnecting');
      return lines.length >= 4 ? lines.slice(0, 4) : undefined;
    });
    expect(lost.map((l) => [l['address'], l['next']])).toEqual([
      [dead[0], dead[1]],
      [dead[1], dead[0]],
      [dead[0], dead[1]],
      [dead[1], dead[0]],
    ]);
    // Jittered between half and all of the backoff: 200 ms for the first round, 400 ms for the second.
    const delays = lost.map((l) => Number(l['retryInMs']));
    expect(delays.slice(0, 2).every((ms) => ms >= 100 && ms <= 200), String(delays)).toBe(true);
    expect(delays.slice(2).every((ms) => ms >= 200 && ms <= 400), String(delays)).toBe(true);
    expect(logs.some((l) => l['msg'] === 'sync stream open')).toBe(false);
  });

  it('stops on a refusal from a control plane that answered, not on an unreachable one', async () => {
    const dead = await deadAddress();
    const refusing = await fakeControlPlane({ refuse: status.UNAUTHENTICATED });
    const refusals: string[] = [];
    startAgent([dead, refusing.address], (message) => refusals.push(message));
    const message = await until(() => refusals[0]);
    expect(message).toContain(`the control plane at ${refusing.address} refused this server (UNAUTHENTICATED: wrong join token)`);
    expect(message).toContain('LANEWAY_JOIN_TOKEN');
    // Stopped: no further attempt on either address.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(refusals).toHaveLength(1);
    expect(hellos).toEqual([{ address: refusing.address, appliedRevision: 0 }]);
  });
});
