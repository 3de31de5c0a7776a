import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ClientDuplexStream,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ApplyOutcome,
  Lane,
  SyncServiceClient,
  WaitFor,
  type SyncRequest,
  type SyncResponse,
} from '@laneway/proto';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../auth/authenticator';
import { CompilerPool } from '../deploy/compiler-pool';
import { DeployPipeline } from '../deploy/deploy-pipeline';
import { compileWorkerBundle } from '../testing/compile-worker-bundle';
import type { ClusterStore } from '../store';
import { openTempStore, type TempStore } from '../testing/temp-store';
import { SyncHub } from './sync-hub';
import { SyncServiceDefinition } from './sync-service';

const logger = pino({ level: 'silent' });
const ADMIN_TOKEN = `lwa_sync-hub-test-${randomBytes(12).toString('hex')}`;

/**
 * A data-plane server's end of the sync stream, over a real grpc-js client: queues what the control
 * plane pushes and records how the stream ended.
 */
class DataPlaneStream {
  private readonly received: SyncResponse[] = [];
  private readonly waiting: ((response: SyncResponse) => void)[] = [];
  readonly ended: Promise<{ status: StatusObject; error: ServiceError | undefined }>;
  private error: ServiceError | undefined;

  constructor(readonly stream: ClientDuplexStream<SyncRequest, SyncResponse>) {
    stream.on('data', (response: SyncResponse) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(response);
      else this.received.push(response);
    });
    stream.on('error', (err: ServiceError) => {
      this.error = err;
    });
    this.ended = new Promise((resolve) => {
      stream.on('status', (s: StatusObject) => {
        // 'error' (when there is one) is emitted before 'status'.
        setImmediate(() => resolve({ status: s, error: this.error }));
      });
    });
  }

  /** `instanceId` names the server process: by default every stream here comes from the same one. */
  hello(cluster: string, server: string, appliedRevision: number, instance: { id: string; pid: number } = { id: 'process-1', pid: 4242 }): this {
    this.stream.write({
      hello: {
        cluster,
        server,
        host: 'test-host',
        pid: instance.pid,
        lanes: [Lane.LANE_NETWORK, Lane.LANE_CPU],
        appliedRevision,
        instanceId: instance.id,
        httpAddress: '10.0.0.7:8080',
      },
    });
    return this;
  }

  ack(push: SyncResponse, revision = push.revision): void {
    this.stream.write({ ack: { nonce: push.nonce, revision } });
  }

  nack(push: SyncResponse, errors: { service: string; message: string; kind?: string }[]): void {
    this.stream.write({ nack: { nonce: push.nonce, revision: push.revision, errors: errors.map((e) => ({ kind: '', ...e })) } });
  }

  /** The next push; fails after `timeoutMs`. */
  next(timeoutMs = 3000): Promise<SyncResponse> {
    const queued = this.received.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new Error(`no push within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (response: SyncResponse): void => {
        clearTimeout(timer);
        resolve(response);
      };
      this.waiting.push(waiter);
    });
  }

  /** Resolves when nothing was pushed for `ms`; fails with the push otherwise. */
  async expectSilence(ms = 300): Promise<void> {
    const push = await this.next(ms).catch(() => undefined);
    if (push) throw new Error(`expected no push, got revision ${push.revision} (full=${push.full})`);
  }

  /** Half-closes the stream (a clean disconnect) and waits for the control plane to end it. */
  async disconnect(): Promise<void> {
    this.stream.end();
    await this.ended;
  }
}

function serviceFile(name: string, output: string, lane: 'network' | 'cpu' = 'network'): { path: string; content: string } {
  return {
    path: `services/${name}.ts`,
    content: `import { defineService } from '@laneway/sdk';
export default defineService({ name: '${name}', lane: '${lane}', handle: (): string => '${output}' });
`,
  };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const NO_WAIT = { waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 };

describe('SyncHub over a real gRPC stream', () => {
  let temp: TempStore;
  let store: ClusterStore;
  let hub: SyncHub;
  let pipeline: DeployPipeline;
  let compiler: CompilerPool;
  let server: Server;
  let client: SyncServiceClient;
  const open: DataPlaneStream[] = [];
  let seq = 0;

  /** Opens a sync stream as a server holding `token` (by default the admin token). */
  function connect(token = ADMIN_TOKEN): DataPlaneStream {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const s = new DataPlaneStream(client.sync(metadata));
    open.push(s);
    return s;
  }

  /** Opens a sync stream the way a data-plane server does: with its cluster's join token. */
  async function joinCluster(cluster: string): Promise<DataPlaneStream> {
    return connect(await store.getJoinToken(cluster));
  }

  async function newCluster(): Promise<string> {
    seq += 1;
    const name = `sync-${seq}-${process.pid}`;
    await store.createCluster(name);
    return name;
  }

  /** Waits until the store shows the cluster's (only) server at `revision`. */
  async function storeShowsApplied(cluster: string, revision: number): Promise<void> {
    await until(
      () => store.listServers(cluster),
      (rows) => rows[0]?.appliedRevision === revision,
    );
  }

  beforeAll(async () => {
    temp = await openTempStore('sync-hub');
    store = temp.store;
    hub = new SyncHub({ store, auth: new Authenticator(ADMIN_TOKEN, store), logger });
    compiler = new CompilerPool({ workerPath: await compileWorkerBundle(), size: 1, maxHeapMb: 256, loadTimeoutMs: 2000, logger });
    await compiler.start();
    pipeline = new DeployPipeline(store, hub, logger, compiler);
    server = new Server();
    server.addService(SyncServiceDefinition, { sync: hub.handleStream });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new SyncServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.stream.cancel();
  });

  afterAll(async () => {
    client?.close();
    hub?.shutdown();
    await compiler?.close();
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
    await temp?.close();
  });

  it('sends a full snapshot of an empty cluster to a server at revision 0', async () => {
    const cluster = await newCluster();
    const dp = (await joinCluster(cluster)).hello(cluster, 'empty-1', 0);

    const push = await dp.next();

    expect(push).toMatchObject({ revision: 0, full: true, services: [], removed: [] });
    expect(push.nonce).not.toBe('');
    dp.ack(push);
    const [row] = await until(
      () => store.listServers(cluster),
      (rows) => rows.length === 1,
    );
    expect(row).toMatchObject({ name: 'empty-1', host: 'test-host', pid: 4242, lanes: ['network', 'cpu'], appliedRevision: 0 });
    expect(hub.connectedServers(cluster)).toEqual(new Set(['empty-1']));
  });

  it('does not trust a server that claims a revision ahead of the cluster: full snapshot, real ACK needed', async () => {
    const cluster = await newCluster();
    await pipeline.deploy(cluster, [serviceFile('ahead.a', 'a1')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'ahead-1', 50);
    const first = await dp.next();
    expect(first).toMatchObject({ revision: 1, full: true });
    expect(first.services.map((s) => s.name)).toEqual(['ahead.a']);
    // Until it ACKs, a deploy that waits for all servers does not count it as up to date.
    const deployed = pipeline.deploy(cluster, [serviceFile('ahead.a', 'a2')], { waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 400 });
    const outcome = await deployed;
    expect(outcome.servers).toMatchObject([{ server: 'ahead-1', outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT }]);
  });

  it('sends every deployed service, with its compiled code, in the first snapshot', async () => {
    const cluster = await newCluster();
    const deployed = await pipeline.deploy(cluster, [serviceFile('snap.a', 'a1'), serviceFile('snap.b', 'b1', 'cpu')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'snap-1', 0);

    const push = await dp.next();

    expect(push.revision).toBe(deployed.revision);
    expect(push.full).toBe(true);
    expect(push.removed).toEqual([]);
    expect(push.services.map((s) => [s.name, s.lane, s.path, s.version])).toEqual([
      ['snap.a', Lane.LANE_NETWORK, 'services/snap.a.ts', deployed.services[0]!.version],
      ['snap.b', Lane.LANE_CPU, 'services/snap.b.ts', deployed.services[1]!.version],
    ]);
    expect(push.services[0]!.code).toContain("'a1'");
    expect(push.services[0]!.code).toContain('require("@laneway/sdk")');
  });

  it('after an ACK, pushes a delta with only the changed service, then removals on undeploy', async () => {
    const cluster = await newCluster();
    const first = await pipeline.deploy(cluster, [serviceFile('delta.a', 'a1'), serviceFile('delta.b', 'b1')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'delta-1', 0);
    const snapshot = await dp.next();
    expect(snapshot.services.map((s) => s.name)).toEqual(['delta.a', 'delta.b']);
    dp.ack(snapshot);
    await storeShowsApplied(cluster, first.revision);

    // Both files deployed again, only delta.a changed.
    const second = await pipeline.deploy(cluster, [serviceFile('delta.a', 'a2'), serviceFile('delta.b', 'b1')], NO_WAIT);
    expect(second.services.map((s) => [s.name, s.changed])).toEqual([
      ['delta.a', true],
      ['delta.b', false],
    ]);
    const delta = await dp.next();
    expect(delta.revision).toBe(second.revision);
    expect(delta.full).toBe(false);
    expect(delta.removed).toEqual([]);
    expect(delta.services.map((s) => [s.name, s.version])).toEqual([['delta.a', second.services[0]!.version]]);
    expect(delta.services[0]!.code).toContain("'a2'");
    expect(delta.nonce).not.toBe(snapshot.nonce);
    dp.ack(delta);

    const undeployed = await pipeline.undeploy(cluster, 'delta.b', NO_WAIT);
    const removal = await dp.next();
    expect(removal).toMatchObject({ revision: undeployed.revision, full: false, services: [], removed: ['delta.b'] });
    dp.ack(removal);
    const [row] = await until(
      () => store.listServers(cluster),
      (rows) => rows[0]?.appliedRevision === undeployed.revision,
    );
    expect(row?.appliedRevision).toBe(undeployed.revision);
  });

  it('keeps one push in flight: changes made before the ACK go out together after it', async () => {
    const cluster = await newCluster();
    await pipeline.deploy(cluster, [serviceFile('flight.a', 'a1'), serviceFile('flight.b', 'b1')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'flight-1', 0);
    const snapshot = await dp.next();

    // Two changes while the snapshot is unacknowledged: nothing is pushed yet.
    await pipeline.deploy(cluster, [serviceFile('flight.a', 'a2')], NO_WAIT);
    const latest = await pipeline.undeploy(cluster, 'flight.b', NO_WAIT);
    await dp.expectSilence(200);

    dp.ack(snapshot);
    const delta = await dp.next();
    expect(delta).toMatchObject({ revision: latest.revision, full: false, removed: ['flight.b'] });
    expect(delta.services.map((s) => s.name)).toEqual(['flight.a']);
    dp.ack(delta);
    await dp.expectSilence(200);
  });

  it('pushes nothing when the same file is deployed again', async () => {
    const cluster = await newCluster();
    const file = serviceFile('same.a', 'v1');
    const first = await pipeline.deploy(cluster, [file], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'same-1', 0);
    dp.ack(await dp.next());
    await storeShowsApplied(cluster, first.revision);

    const again = await pipeline.deploy(cluster, [file], NO_WAIT);

    expect(again.revision).toBe(first.revision);
    expect(again.services[0]?.changed).toBe(false);
    await dp.expectSilence(300);
  });

  it('sends a reconnecting server only what changed since its applied revision', async () => {
    const cluster = await newCluster();
    const first = await pipeline.deploy(
      cluster,
      [serviceFile('re.a', 'a1'), serviceFile('re.b', 'b1'), serviceFile('re.c', 'c1')],
      NO_WAIT,
    );
    const before = (await joinCluster(cluster)).hello(cluster, 're-1', 0);
    const snapshot = await before.next();
    expect(snapshot.services).toHaveLength(3);
    before.ack(snapshot);
    await storeShowsApplied(cluster, first.revision);
    await before.disconnect();
    expect(hub.connectedServers(cluster).size).toBe(0);

    // While it is away: one service changes, another goes.
    await pipeline.deploy(cluster, [serviceFile('re.a', 'a2')], NO_WAIT);
    const removed = await pipeline.undeploy(cluster, 're.b', NO_WAIT);

    const after = (await joinCluster(cluster)).hello(cluster, 're-1', first.revision);
    const delta = await after.next();
    expect(delta.revision).toBe(removed.revision);
    expect(delta.full).toBe(false);
    expect(delta.services.map((s) => s.name)).toEqual(['re.a']);
    expect(delta.services[0]!.code).toContain("'a2'");
    expect(delta.removed).toEqual(['re.b']);
  });

  it('sends a server that reconnects at the current revision no services, only its drain state', async () => {
    const cluster = await newCluster();
    const deployed = await pipeline.deploy(cluster, [serviceFile('current.a', 'a1')], NO_WAIT);

    const dp = (await joinCluster(cluster)).hello(cluster, 'current-1', deployed.revision);

    // The drain flag is unknown after a connect, so one empty delta at the server's own revision carries it.
    const push = await dp.next();
    expect(push).toMatchObject({ revision: deployed.revision, full: false, services: [], removed: [], drained: false });
    dp.ack(push);
    await dp.expectSilence(300);
    expect(hub.connectedServers(cluster)).toEqual(new Set(['current-1']));
    expect((await store.listServers(cluster))[0]?.appliedRevision).toBe(deployed.revision);
  });

  it('pushes a drain as an empty delta at the revision the server has', async () => {
    const cluster = await newCluster();
    const deployed = await pipeline.deploy(cluster, [serviceFile('drain.a', 'a1')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'drain-1', 0);
    const snapshot = await dp.next();
    expect(snapshot.drained).toBe(false);
    dp.ack(snapshot);
    await storeShowsApplied(cluster, deployed.revision);

    // setDrained resolves once the server confirms.
    const draining = hub.setDrained(cluster, 'drain-1', true, 3000);
    const drain = await dp.next();
    expect(drain).toMatchObject({ revision: deployed.revision, full: false, services: [], removed: [], drained: true });
    expect(hub.drainConfirmed(cluster, 'drain-1')).toBe(false);
    dp.ack(drain);
    expect(await draining).toBe(true);
    expect(hub.drainConfirmed(cluster, 'drain-1')).toBe(true);
    expect((await store.listServers(cluster))[0]).toMatchObject({ drained: true, appliedRevision: deployed.revision });
  });

  it('ignores an ACK that carries a stale nonce', async () => {
    const cluster = await newCluster();
    const first = await pipeline.deploy(cluster, [serviceFile('stale.a', 'a1')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'stale-1', 0);
    const snapshot = await dp.next();
    dp.ack(snapshot);
    await storeShowsApplied(cluster, first.revision);

    const second = await pipeline.deploy(cluster, [serviceFile('stale.a', 'a2')], NO_WAIT);
    const delta = await dp.next();
    expect(delta.revision).toBe(second.revision);
    // The old push's nonce, claiming the new revision.
    dp.ack(snapshot, second.revision);

    const waited = await hub.waitForServers(cluster, second.revision, 300);
    expect(waited).toEqual([
      expect.objectContaining({ server: 'stale-1', outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT, appliedRevision: first.revision }),
    ]);
    expect((await store.listServers(cluster))[0]?.appliedRevision).toBe(first.revision);

    // The right nonce still counts.
    dp.ack(delta);
    const acked = await hub.waitForServers(cluster, second.revision, 2000);
    expect(acked[0]).toMatchObject({ outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: second.revision });
    expect((await store.listServers(cluster))[0]?.appliedRevision).toBe(second.revision);
  });

  it('reports a NACK to the deploy that waits for it and records it on the server', async () => {
    const cluster = await newCluster();
    const first = await pipeline.deploy(cluster, [serviceFile('nack.a', 'a1')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'nack-1', 0);
    dp.ack(await dp.next());
    await storeShowsApplied(cluster, first.revision);

    const deploying = pipeline.deploy(cluster, [serviceFile('nack.a', 'a2')], {
      waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
      timeoutMs: 5000,
    });
    const push = await dp.next();
    const errors = [{ service: 'nack.a', kind: '', message: 'nack.a: cannot find module left-pad' }];
    dp.nack(push, errors);
    const outcome = await deploying;

    expect(outcome.revision).toBe(push.revision);
    expect(outcome.servers).toEqual([
      { server: 'nack-1', outcome: ApplyOutcome.APPLY_OUTCOME_NACKED, appliedRevision: first.revision, errors, httpAddress: '10.0.0.7:8080' },
    ]);
    const [row] = await until(
      () => store.listServers(cluster),
      (rows) => (rows[0]?.lastNack.length ?? 0) > 0,
    );
    // The channel address of its hello is stored with it (ListServers shows it).
    expect(row).toMatchObject({ name: 'nack-1', appliedRevision: first.revision, lastNack: errors, httpAddress: '10.0.0.7:8080' });
    // The rejected revision is not pushed again.
    await dp.expectSilence(200);
  });

  it('reports an ACK or a NACK to a waiting deploy only once the store shows it', async () => {
    const cluster = await newCluster();
    const first = await pipeline.deploy(cluster, [serviceFile('rec.a', 'a1')], NO_WAIT);
    const dp = (await joinCluster(cluster)).hello(cluster, 'rec-1', 0);
    dp.ack(await dp.next());
    await storeShowsApplied(cluster, first.revision);
    // A slow database (PostgreSQL under load): the store write of each ACK/NACK takes 400 ms.
    const record = store.recordServerApplied.bind(store);
    store.recordServerApplied = async (...args: Parameters<typeof record>) => {
      await new Promise((r) => setTimeout(r, 400));
      return record(...args);
    };
    try {
      const second = await pipeline.deploy(cluster, [serviceFile('rec.a', 'a2')], NO_WAIT);
      dp.ack(await dp.next());
      // The waiter starts after the ACK reached the control plane but before it was stored (on
      // PostgreSQL a Deploy reads the store first, so its ACKs can arrive before it waits).
      await new Promise((r) => setTimeout(r, 100));
      expect(await hub.waitForServers(cluster, second.revision, 5000)).toMatchObject([
        { server: 'rec-1', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: second.revision },
      ]);
      // ListServers and GetDeploymentStatus read the store: right after the deploy, they show the ACK.
      expect(await store.listServers(cluster)).toMatchObject([{ name: 'rec-1', appliedRevision: second.revision, lastNack: [] }]);

      const third = await pipeline.deploy(cluster, [serviceFile('rec.a', 'a3')], NO_WAIT);
      const errors = [{ service: 'rec.a', message: 'rec.a: no model file' }];
      dp.nack(await dp.next(), errors);
      await new Promise((r) => setTimeout(r, 100));
      expect(await hub.waitForServers(cluster, third.revision, 5000)).toMatchObject([
        { server: 'rec-1', outcome: ApplyOutcome.APPLY_OUTCOME_NACKED, errors },
      ]);
      expect(await store.listServers(cluster)).toMatchObject([{ name: 'rec-1', appliedRevision: second.revision, lastNack: errors }]);
    } finally {
      store.recordServerApplied = record;
    }
  });

  it('waits for every server: ACKED for the one that applies, TIMED_OUT for the one that does not', async () => {
    const cluster = await newCluster();
    const first = await pipeline.deploy(cluster, [serviceFile('wait.a', 'a1')], NO_WAIT);
    const quick = (await joinCluster(cluster)).hello(cluster, 'wait-quick', 0);
    const stuck = (await joinCluster(cluster)).hello(cluster, 'wait-stuck', 0);
    quick.ack(await quick.next());
    stuck.ack(await stuck.next());
    await until(
      () => store.listServers(cluster),
      (rows) => rows.length === 2 && rows.every((r) => r.appliedRevision === first.revision),
    );

    const deploying = pipeline.deploy(cluster, [serviceFile('wait.a', 'a2')], {
      waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
      timeoutMs: 400,
    });
    const push = await quick.next();
    quick.ack(push);
    const neverAcked = await stuck.next();
    expect(neverAcked.revision).toBe(push.revision);
    const started = performance.now();
    const outcome = await deploying;

    const byServer = new Map(outcome.servers.map((s) => [s.server, s]));
    expect(byServer.size).toBe(2);
    expect(byServer.get('wait-quick')).toMatchObject({
      outcome: ApplyOutcome.APPLY_OUTCOME_ACKED,
      appliedRevision: push.revision,
      errors: [],
    });
    const timedOut = byServer.get('wait-stuck');
    expect(timedOut).toMatchObject({ outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT, appliedRevision: first.revision });
    expect(timedOut?.errors[0]?.message).toContain(`'wait-stuck' did not apply revision ${push.revision} within 400 ms`);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('ends the stream with NOT_FOUND when the hello names an unknown cluster', async () => {
    const missing = `no-such-cluster-${process.pid}`;
    const dp = connect().hello(missing, 'lost-1', 0);

    const { status: ended, error } = await dp.ended;

    expect(ended.code).toBe(status.NOT_FOUND);
    expect(ended.details).toContain(`cluster '${missing}' does not exist`);
    expect(error?.code).toBe(status.NOT_FOUND);
    expect(hub.connectedServers(missing).size).toBe(0);
  });

  it('refuses a hello whose names break the API rules, answering even a 100,000-character name', async () => {
    const cluster = await newCluster();
    const nul = await joinCluster(cluster);
    nul.hello(cluster, 'a\u0000b', 0);
    const refused = await nul.ended;
    expect(refused.status.code).toBe(status.INVALID_ARGUMENT);
    expect(refused.status.details).toContain('hello.server');
    expect(refused.status.details).toContain('U+0000');
    expect(await store.listServers(cluster)).toEqual([]);

    const long = connect().hello('c'.repeat(100_000), 'long-1', 0);
    const tooLong = await long.ended;
    expect(tooLong.status.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(tooLong.status.details).toContain('LANEWAY_MAX_NAME_LENGTH');
    expect(tooLong.status.details.length).toBeLessThan(5000);
  });

  it('encodes a push once per revision and drain flag: servers at one revision get the same push, one nonce, and each ACK is stored', async () => {
    const cluster = await newCluster();
    await pipeline.deploy(cluster, [serviceFile('fleet.a', 'a1')], NO_WAIT);
    const names = ['fleet-1', 'fleet-2', 'fleet-3'];
    const dps = await Promise.all(names.map(async (name) => (await joinCluster(cluster)).hello(cluster, name, 0)));
    for (const dp of dps) dp.ack(await dp.next());
    // fleet-3 is drained: its pushes carry drained = true, so they are encoded apart from the others'.
    const drained = hub.setDrained(cluster, 'fleet-3', true);
    const drainPush = await dps[2]!.next();
    expect(drainPush).toMatchObject({ drained: true, services: [] });
    dps[2]!.ack(drainPush);
    expect(await drained).toBe(true);

    const deployed = pipeline.deploy(cluster, [serviceFile('fleet.a', 'a2')], { waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 3000 });
    const pushes = await Promise.all(dps.map((dp) => dp.next()));
    expect(pushes.map((p) => [p.full, p.drained, p.services.map((x) => x.name)])).toEqual([
      [false, false, ['fleet.a']],
      [false, false, ['fleet.a']],
      [false, true, ['fleet.a']],
    ]);
    expect(pushes[1]!.nonce).toBe(pushes[0]!.nonce);
    expect(pushes[2]!.nonce).not.toBe(pushes[0]!.nonce);
    expect(pushes[2]!.services[0]!.code).toBe(pushes[0]!.services[0]!.code);
    dps.forEach((dp, i) => dp.ack(pushes[i]!));
    const outcome = await deployed;
    expect(outcome.servers.map((s) => [s.server, s.outcome])).toEqual(names.map((name) => [name, ApplyOutcome.APPLY_OUTCOME_ACKED]));
    // The ACKs were stored (together) before the deploy reported them.
    const rows = await store.listServers(cluster);
    expect(rows.map((r) => [r.name, r.appliedRevision])).toEqual(names.map((name) => [name, outcome.revision]));
  });

  it('replaces the first stream when a second one opens with the same server name', async () => {
    const cluster = await newCluster();
    await pipeline.deploy(cluster, [serviceFile('dup.a', 'a1')], NO_WAIT);
    const first = (await joinCluster(cluster)).hello(cluster, 'dup-1', 0);
    first.ack(await first.next());

    const second = (await joinCluster(cluster)).hello(cluster, 'dup-1', 0);
    const snapshot = await second.next();

    expect(snapshot.full).toBe(true);
    expect(snapshot.services.map((s) => s.name)).toEqual(['dup.a']);
    const { status: ended } = await first.ended;
    expect(ended.code).toBe(status.OK);
    expect(hub.connectedServers(cluster)).toEqual(new Set(['dup-1']));
    expect(await store.listServers(cluster)).toHaveLength(1);

    // Changes go to the new stream only.
    second.ack(snapshot);
    await storeShowsApplied(cluster, snapshot.revision);
    const next = await pipeline.deploy(cluster, [serviceFile('dup.a', 'a2')], NO_WAIT);
    expect((await second.next()).revision).toBe(next.revision);
  });

  it('lets the newest of two replicas with one name hold it, refuses the older one until the name is free', async () => {
    const cluster = await newCluster();
    await pipeline.deploy(cluster, [serviceFile('twin.a', 'a1')], NO_WAIT);
    const older = { id: 'replica-a', pid: 1001 };
    const newer = { id: 'replica-b', pid: 1002 };
    const a = (await joinCluster(cluster)).hello(cluster, 'twin-1', 0, older);
    a.ack(await a.next());

    // A second process with the same name: it wins, and the first is told why.
    const b = (await joinCluster(cluster)).hello(cluster, 'twin-1', 0, newer);
    b.ack(await b.next());
    const { status: aEnded } = await a.ended;
    expect(aEnded.code).toBe(status.ALREADY_EXISTS);
    expect(aEnded.details).toContain("server name 'twin-1'");
    expect(aEnded.details).toContain('pid 1002');
    expect(aEnded.details).toContain('LANEWAY_SERVER_NAME');

    // The first one reconnects: refused while the second holds the name (no flapping), nothing pushed.
    const aAgain = (await joinCluster(cluster)).hello(cluster, 'twin-1', 0, older);
    const { status: refused } = await aAgain.ended;
    expect(refused.code).toBe(status.ALREADY_EXISTS);
    expect(refused.details).toContain('held by another replica (host test-host, pid 1002)');
    expect(hub.connectedServers(cluster)).toEqual(new Set(['twin-1']));
    expect((await store.listServers(cluster))[0]).toMatchObject({ name: 'twin-1', pid: 1002 });
    const next = await pipeline.deploy(cluster, [serviceFile('twin.a', 'a2')], NO_WAIT);
    expect((await b.next()).revision).toBe(next.revision);

    // Once the holder is gone, the first one may have the name back.
    await b.disconnect();
    const aBack = (await joinCluster(cluster)).hello(cluster, 'twin-1', 0, older);
    const snapshot = await aBack.next();
    expect(snapshot).toMatchObject({ revision: next.revision, full: true });
    aBack.ack(snapshot);
    await until(
      () => store.listServers(cluster),
      (rows) => rows[0]?.pid === 1001 && rows[0]?.appliedRevision === next.revision,
    );
    expect((await store.listServers(cluster))[0]).toMatchObject({ pid: 1001, appliedRevision: next.revision });
  });

  it('rejects a second hello on the same stream', async () => {
    const cluster = await newCluster();
    const dp = (await joinCluster(cluster)).hello(cluster, 'twice-1', 0);
    await dp.next();

    dp.hello(cluster, 'twice-2', 0);
    const { status: ended } = await dp.ended;

    expect(ended.code).toBe(status.INVALID_ARGUMENT);
    expect(ended.details).toContain('hello was already sent');
    expect(hub.connectedServers(cluster).size).toBe(0);
  });

  it("refuses a join token of another cluster, and a stream without a token", async () => {
    const cluster = await newCluster();
    const other = await newCluster();

    const wrong = connect(await store.getJoinToken(other)).hello(cluster, 'intruder-1', 0);
    const refused = await wrong.ended;
    expect(refused.status.code).toBe(status.PERMISSION_DENIED);
    expect(refused.status.details).toContain(`cluster '${other}'`);

    const anonymous = new DataPlaneStream(client.sync());
    open.push(anonymous);
    anonymous.hello(cluster, 'anon-1', 0);
    const unauthenticated = await anonymous.ended;
    expect(unauthenticated.status.code).toBe(status.UNAUTHENTICATED);

    expect(hub.connectedServers(cluster).size).toBe(0);
    expect(await store.listServers(cluster)).toEqual([]);
  });

  it('rejects a stream whose first message is not a hello', async () => {
    const dp = connect();
    dp.stream.write({ ack: { nonce: '1', revision: 1 } });

    const { status: ended } = await dp.ended;

    expect(ended.code).toBe(status.FAILED_PRECONDITION);
    expect(ended.details).toContain('first message on the sync stream must be hello');
  });
});
