import { credentials, Metadata, status } from '@grpc/grpc-js';
import {
  ApplyOutcome,
  ChannelServiceClient,
  ClusterServiceClient,
  DeployServiceClient,
  Lane,
  SyncServiceClient,
  WaitFor,
  type ChannelChangeResponse,
  type CreateChannelRequest,
  type SyncResponse,
} from '@laneway/proto';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { DEFAULT_LIMITS } from '../limits';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';
import { grpcCalls } from '../testing/grpc-calls';
import { deleteRedisPrefix } from '../testing/redis-prefix';

describe('ChannelService: channels are cluster resources, stored, checked and pushed like services', () => {
  const prefix = `lwtest-chan-${randomBytes(6).toString('hex')}`;
  const cluster = `chan-${process.pid}`;
  let dataDir: string;
  let running: RunningControlPlane;
  let channels: ChannelServiceClient;
  let clusters: ClusterServiceClient;
  let deploys: DeployServiceClient;
  let sync: SyncServiceClient;
  const pushes: SyncResponse[] = [];
  let stream: ReturnType<SyncServiceClient['sync']>;

  const { rpc, failure } = grpcCalls(() => running.adminToken);
  const channel = (over: Partial<CreateChannelRequest> = {}): CreateChannelRequest => ({
    cluster,
    name: 'get-customer',
    method: 'GET',
    path: '/customers/:id',
    service: 'crm.get-customer',
    security: '',
    timeoutMs: 0,
    async: false,
    rateLimitPerSecond: 0,
    waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
    waitTimeoutMs: 5000,
    ...over,
  });
  const create = (req: CreateChannelRequest) => rpc<ChannelChangeResponse>((m, cb) => channels.createChannel(req, m, cb));
  /** Waits for the next push on the test's sync stream and ACKs it. */
  const nextPush = async (): Promise<SyncResponse> => {
    for (let n = 0; n < 100 && pushes.length === 0; n++) await new Promise((r) => setTimeout(r, 20));
    const push = pushes.shift();
    if (!push) throw new Error('no push arrived');
    stream.write({ ack: { nonce: push.nonce, revision: push.revision } });
    return push;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'laneway-chan-'));
    running = await startControlPlane(
      { grpcAddress: '127.0.0.1:0', dataDir, databaseUrl: undefined, redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', queuePrefix: prefix, adminToken: undefined, logLevel: 'silent', limits: DEFAULT_LIMITS, compile: TEST_COMPILE },
      pino({ level: 'silent' }),
      { compileWorkerPath: await compileWorkerBundle() },
    );
    const target = `127.0.0.1:${running.port}`;
    channels = new ChannelServiceClient(target, credentials.createInsecure());
    clusters = new ClusterServiceClient(target, credentials.createInsecure());
    deploys = new DeployServiceClient(target, credentials.createInsecure());
    sync = new SyncServiceClient(target, credentials.createInsecure());
    await rpc((m, cb) => clusters.createCluster({ name: cluster }, m, cb));
    await rpc((m, cb) =>
      deploys.deploy(
        {
          cluster,
          files: [{ path: 'crm.ts', content: "import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'crm.get-customer', handle: (i: { id: string }) => ({ id: i.id }) });\n" }],
          waitFor: WaitFor.WAIT_FOR_NONE,
          timeoutMs: 0,
        },
        m,
        cb,
      ),
    );
    // A data-plane server's stream, to see what is pushed and to ACK it.
    const joinToken = (await rpc<{ token: string }>((m, cb) => clusters.getJoinToken({ name: cluster }, m, cb))).token;
    const joinMd = new Metadata();
    joinMd.set('authorization', `Bearer ${joinToken}`);
    stream = sync.sync(joinMd);
    stream.on('data', (p: SyncResponse) => pushes.push(p));
    stream.on('error', () => undefined);
    stream.write({ hello: { cluster, server: 's1', host: 'test', pid: 1, lanes: [Lane.LANE_NETWORK], appliedRevision: 0, instanceId: 'i1', httpAddress: '' } });
    const snapshot = await nextPush();
    expect(snapshot.full).toBe(true);
    expect(snapshot.resources).toEqual([]);
  });

  afterAll(async () => {
    stream?.cancel();
    for (const c of [channels, clusters, deploys, sync]) c?.close();
    await running?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await deleteRedisPrefix(prefix);
  });

  it('creates a channel in one revision, pushes it, and reports the server ACK', async () => {
    const created = create(channel());
    const push = await nextPush();
    const response = await created;
    expect(response.channel).toMatchObject({ name: 'get-customer', method: 'GET', path: '/customers/:id', service: 'crm.get-customer', revision: response.revision });
    expect(response.servers.map((s) => [s.server, s.outcome])).toEqual([['s1', ApplyOutcome.APPLY_OUTCOME_ACKED]]);
    expect(push).toMatchObject({ revision: response.revision, full: false, services: [], removedResources: [] });
    expect(push.resources).toEqual([
      { kind: 'channel', name: 'get-customer', version: expect.any(String), channel: { method: 'GET', path: '/customers/:id', service: 'crm.get-customer', security: '', timeoutMs: 0, async: false, rateLimitPerSecond: 0 } },
    ]);
    const listed = await rpc<{ revision: number; channels: { name: string }[] }>((m, cb) => channels.listChannels({ cluster }, m, cb));
    expect(listed).toMatchObject({ revision: response.revision, channels: [{ name: 'get-customer' }] });
  });

  it('refuses bad fields, naming the field and the value, and changes nothing', async () => {
    const before = await rpc<{ revision: number }>((m, cb) => channels.listChannels({ cluster }, m, cb));
    expect(await failure(create(channel({ name: 'x1', method: 'FETCH' })), status.INVALID_ARGUMENT)).toBe("method 'FETCH' is not one of GET, POST, PUT, PATCH, DELETE");
    expect(await failure(create(channel({ name: 'x2', path: 'customers' })), status.INVALID_ARGUMENT)).toBe("path 'customers' is invalid: it must start with '/'");
    expect(await failure(create(channel({ name: 'x3', path: '/a//b' })), status.INVALID_ARGUMENT)).toContain('empty segment');
    expect(await failure(create(channel({ name: 'x4', path: '/healthz' })), status.INVALID_ARGUMENT)).toContain('served by every server itself');
    expect(await failure(create(channel({ name: 'x5', path: '/x', service: 'crm.nope' })), status.INVALID_ARGUMENT)).toBe(
      `channel 'x5': service 'crm.nope' is not deployed in cluster '${cluster}': deploy it first`,
    );
    expect(await failure(create(channel({ name: 'x6', path: '/y', security: 'partners' })), status.INVALID_ARGUMENT)).toBe(
      `channel 'x6': security definition 'partners' does not exist in cluster '${cluster}': create it first`,
    );
    expect(await failure(create(channel({ name: 'bad name!' })), status.INVALID_ARGUMENT)).toContain("channel name 'bad name!' is invalid");
    expect(await failure(create(channel({ name: 'x9', path: '/files/*' })), status.INVALID_ARGUMENT)).toContain("path '/files/*' is invalid: segment '*' holds '*'");
    // OpenAPI's spelling of the existing route is the same route.
    expect(await failure(create(channel({ name: 'dup-braced', path: '/customers/{key}' })), status.ALREADY_EXISTS)).toContain("channel 'get-customer' already answers GET /customers/:id");
    expect(await failure(create(channel({ name: 'dup-route', path: '/customers/:key' })), status.ALREADY_EXISTS)).toBe(
      `channel 'get-customer' already answers GET /customers/:id in cluster '${cluster}': change its path, or update that channel`,
    );
    expect(await failure(create(channel({ path: '/other' })), status.ALREADY_EXISTS)).toContain("channel 'get-customer' already exists");
    expect(await failure(create(channel({ cluster: 'no-such-cluster', name: 'x8' })), status.NOT_FOUND)).toContain("'no-such-cluster'");
    const after = await rpc<{ revision: number }>((m, cb) => channels.listChannels({ cluster }, m, cb));
    expect(after.revision).toBe(before.revision);
    expect(pushes).toEqual([]);
  });

  it('updates a channel (a new revision and push), and an update that changes nothing bumps nothing', async () => {
    const updated = rpc<ChannelChangeResponse>((m, cb) => channels.updateChannel({ ...channel(), path: '/customers/:id/profile', timeoutMs: 2000 }, m, cb));
    const push = await nextPush();
    const response = await updated;
    expect(push.resources[0]!.channel).toMatchObject({ path: '/customers/:id/profile', timeoutMs: 2000 });
    const same = await rpc<ChannelChangeResponse>((m, cb) => channels.updateChannel({ ...channel(), path: '/customers/:id/profile', timeoutMs: 2000 }, m, cb));
    expect(same.revision).toBe(response.revision);
    // OpenAPI's spelling of the same path is stored as ':id': the same spec, nothing to push.
    const braced = await rpc<ChannelChangeResponse>((m, cb) => channels.updateChannel({ ...channel(), path: '/customers/{id}/profile', timeoutMs: 2000 }, m, cb));
    expect(braced).toMatchObject({ revision: response.revision, channel: { path: '/customers/:id/profile' } });
    expect(await failure(rpc((m, cb) => channels.updateChannel(channel({ name: 'missing' }), m, cb)), status.NOT_FOUND)).toBe(`channel 'missing' does not exist in cluster '${cluster}'`);
    const described = await rpc<{ path: string; revision: number }>((m, cb) => channels.describeChannel({ cluster, name: 'get-customer' }, m, cb));
    expect(described).toMatchObject({ path: '/customers/:id/profile', revision: response.revision });
  });

  it('refuses to undeploy a service a channel uses, naming the channel', async () => {
    const details = await failure(
      rpc((m, cb) => deploys.undeploy({ cluster, name: 'crm.get-customer', waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, m, cb)),
      status.FAILED_PRECONDITION,
    );
    expect(details).toBe("service 'crm.get-customer' is used by channel(s) 'get-customer': delete or repoint them first");
  });

  it('deletes a channel: a tombstone in the next delta, and a server catching up from revision 0 never sees it', async () => {
    const deleted = rpc<ChannelChangeResponse>((m, cb) => channels.deleteChannel({ cluster, name: 'get-customer', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 5000 }, m, cb));
    const push = await nextPush();
    const response = await deleted;
    expect(push.removedResources).toEqual([{ kind: 'channel', name: 'get-customer' }]);
    expect(response.servers.map((s) => s.outcome)).toEqual([ApplyOutcome.APPLY_OUTCOME_ACKED]);
    expect(await failure(rpc((m, cb) => channels.describeChannel({ cluster, name: 'get-customer' }, m, cb)), status.NOT_FOUND)).toContain('does not exist');
    const snapshot = await running.store.changesSince(cluster, 0);
    expect(snapshot).toMatchObject({ full: true, resources: [], removedResources: [] });
  });
});
