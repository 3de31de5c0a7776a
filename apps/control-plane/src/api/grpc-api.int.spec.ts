import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  ClusterServiceClient,
  DeployServiceClient,
  InvokeServiceClient,
  Lane,
  ServerServiceClient,
  WaitFor,
  type Cluster,
  type DeployResponse,
  type JoinToken,
  type ListClustersResponse,
  type ListServersResponse,
  type ListServicesResponse,
  type SourceFile,
  type UndeployResponse,
} from '@laneway/proto';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { DEFAULT_LIMITS } from '../limits';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';
import { deleteRedisPrefix } from '../testing/redis-prefix';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const STACK_TRACE = /\n\s+at /;

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

function serviceFile(name: string, output = 'ok'): SourceFile {
  return {
    path: `services/${name}.ts`,
    content: `import { defineService } from '@laneway/sdk';
export default defineService({ name: '${name}', handle: (): string => '${output}' });
`,
  };
}

describe('the gRPC API of a running control plane', () => {
  const prefix = `lwtest-api-${randomBytes(6).toString('hex')}`;
  let dataDir: string;
  let running: RunningControlPlane;
  let clusters: ClusterServiceClient;
  let deploys: DeployServiceClient;
  let invokes: InvokeServiceClient;
  let servers: ServerServiceClient;
  let seq = 0;

  const name = (what: string): string => `${what}-${++seq}-${process.pid}`;

  function bearer(token: string): Metadata {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  }

  /** Runs one unary call as the admin (or with `metadata`). */
  function rpc<Res>(invoke: (metadata: Metadata, cb: Callback<Res>) => unknown, metadata = bearer(running.adminToken)): Promise<Res> {
    return new Promise((resolve, reject) => {
      invoke(metadata, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  /** Expects the call to fail with `code`; checks that no stack trace reaches the client. */
  async function rpcError(call: Promise<unknown>, code: status): Promise<ServiceError> {
    const err = await call.then(
      (res) => {
        throw new Error(`expected gRPC status ${status[code]}, got a response: ${JSON.stringify(res)}`);
      },
      (e: unknown) => e as ServiceError,
    );
    expect(err.code, `status of: ${err.details}`).toBe(code);
    expect(err.details).not.toMatch(STACK_TRACE);
    expect(err.details).not.toMatch(/\.ts:\d+:\d+\)|node:internal/);
    return err;
  }

  async function createCluster(): Promise<string> {
    const cluster = name('api');
    await rpc<Cluster>((md, cb) => clusters.createCluster({ name: cluster }, md, cb));
    return cluster;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'laneway-api-'));
    running = await startControlPlane(
      {
        grpcAddress: '127.0.0.1:0',
        dataDir,
        databaseUrl: undefined,
        redisUrl: REDIS_URL,
        queuePrefix: prefix,
        adminToken: undefined,
        logLevel: 'silent',
        limits: DEFAULT_LIMITS,
        compile: TEST_COMPILE,
      },
      pino({ level: 'silent' }),
      { compileWorkerPath: await compileWorkerBundle() },
    );
    const target = `127.0.0.1:${running.port}`;
    clusters = new ClusterServiceClient(target, credentials.createInsecure());
    deploys = new DeployServiceClient(target, credentials.createInsecure());
    invokes = new InvokeServiceClient(target, credentials.createInsecure());
    servers = new ServerServiceClient(target, credentials.createInsecure());
  });

  afterAll(async () => {
    for (const client of [clusters, deploys, invokes, servers]) client?.close();
    await running?.close();
    await deleteRedisPrefix(prefix, REDIS_URL);
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  describe('ClusterService', () => {
    it('creates, gets, lists and deletes a cluster', async () => {
      const cluster = name('life');

      const created = await rpc<Cluster>((md, cb) => clusters.createCluster({ name: cluster }, md, cb));
      expect(created).toMatchObject({ name: cluster, revision: 0, serviceCount: 0 });
      expect(Date.parse(created.createdAt)).not.toBeNaN();

      expect(await rpc<Cluster>((md, cb) => clusters.getCluster({ name: cluster }, md, cb))).toEqual(created);
      const listed = await rpc<ListClustersResponse>((md, cb) => clusters.listClusters({}, md, cb));
      expect(listed.clusters.map((c) => c.name)).toEqual(expect.arrayContaining(['default', cluster]));

      await rpc((md, cb) => clusters.deleteCluster({ name: cluster }, md, cb));
      const gone = await rpcError(
        rpc<Cluster>((md, cb) => clusters.getCluster({ name: cluster }, md, cb)),
        status.NOT_FOUND,
      );
      expect(gone.details).toContain(`cluster '${cluster}' does not exist`);
      const listedAfter = await rpc<ListClustersResponse>((md, cb) => clusters.listClusters({}, md, cb));
      expect(listedAfter.clusters.map((c) => c.name)).not.toContain(cluster);
    });

    it('refuses a second cluster of the same name with ALREADY_EXISTS', async () => {
      const cluster = await createCluster();

      const err = await rpcError(
        rpc<Cluster>((md, cb) => clusters.createCluster({ name: cluster }, md, cb)),
        status.ALREADY_EXISTS,
      );

      expect(err.details).toBe(`cluster '${cluster}' already exists`);
      expect(err.metadata.get('laneway-error-code')).toEqual(['ALREADY_EXISTS']);
    });

    it('answers NOT_FOUND for an unknown cluster on get and delete', async () => {
      const missing = name('missing');

      const onGet = await rpcError(rpc<Cluster>((md, cb) => clusters.getCluster({ name: missing }, md, cb)), status.NOT_FOUND);
      const onDelete = await rpcError(rpc((md, cb) => clusters.deleteCluster({ name: missing }, md, cb)), status.NOT_FOUND);

      expect(onGet.details).toContain(`'${missing}'`);
      expect(onDelete.details).toContain(`'${missing}'`);
    });

    it('rejects an invalid cluster name with INVALID_ARGUMENT naming the value', async () => {
      for (const bad of ['Has Spaces!', '-leading-dash', 'x'.repeat(64)]) {
        const err = await rpcError(rpc<Cluster>((md, cb) => clusters.createCluster({ name: bad }, md, cb)), status.INVALID_ARGUMENT);
        expect(err.details).toContain(`'${bad}'`);
      }
      const empty = await rpcError(rpc<Cluster>((md, cb) => clusters.getCluster({ name: '' }, md, cb)), status.INVALID_ARGUMENT);
      expect(empty.details).toContain('name is empty');
    });
  });

  describe('DeployService', () => {
    it('rejects an empty files list with INVALID_ARGUMENT about files', async () => {
      const cluster = await createCluster();

      const err = await rpcError(
        rpc<DeployResponse>((md, cb) => deploys.deploy({ cluster, files: [], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb)),
        status.INVALID_ARGUMENT,
      );

      expect(err.details).toContain('files');
    });

    it('rejects two files with the same path, naming the path', async () => {
      const cluster = await createCluster();
      const file = serviceFile('dup.path');

      const err = await rpcError(
        rpc<DeployResponse>((md, cb) =>
          deploys.deploy({ cluster, files: [file, { ...file, content: `${file.content}\n// v2` }], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb),
        ),
        status.INVALID_ARGUMENT,
      );

      expect(err.details).toContain(`files[1].path '${file.path}' appears twice`);
      const listed = await rpc<ListServicesResponse>((md, cb) => deploys.listServices({ cluster, pageSize: 0, pageToken: '', namePrefix: '' }, md, cb));
      expect(listed).toEqual({ revision: 0, services: [], nextPageToken: '' });
    });

    it('pages ListServices by name with next_page_token, filters by name_prefix, and refuses a forged page_token', async () => {
      const cluster = await createCluster();
      const files = ['p.a', 'p.b', 'p.c', 'q.a', 'q.b'].map((n) => serviceFile(n));
      await rpc<DeployResponse>((md, cb) => deploys.deploy({ cluster, files, waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb));
      const list = (req: { pageSize?: number; pageToken?: string; namePrefix?: string }) =>
        rpc<ListServicesResponse>((md, cb) => deploys.listServices({ cluster, pageSize: 0, pageToken: '', namePrefix: '', ...req }, md, cb));
      const first = await list({ pageSize: 2 });
      expect(first.services.map((s) => s.name)).toEqual(['p.a', 'p.b']);
      const second = await list({ pageSize: 2, pageToken: first.nextPageToken });
      expect(second.services.map((s) => s.name)).toEqual(['p.c', 'q.a']);
      const third = await list({ pageSize: 2, pageToken: second.nextPageToken });
      expect(third).toMatchObject({ nextPageToken: '' });
      expect(third.services.map((s) => s.name)).toEqual(['q.b']);
      expect((await list({ namePrefix: 'q.' })).services.map((s) => s.name)).toEqual(['q.a', 'q.b']);
      expect((await list({})).services).toHaveLength(5);
      expect(first.services[0]!.inputSchema).toBe('');
      const err = await rpcError(list({ pageSize: 2, pageToken: 'not base64url!' }), status.INVALID_ARGUMENT);
      expect(err.details).toContain('page_token');
    });

    it('answers NOT_FOUND for a deploy to an unknown cluster', async () => {
      const missing = name('nowhere');

      const err = await rpcError(
        rpc<DeployResponse>((md, cb) => deploys.deploy({ cluster: missing, files: [serviceFile('lost.svc')], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb)),
        status.NOT_FOUND,
      );

      expect(err.details).toContain(`cluster '${missing}' does not exist`);
    });

    it('reports a syntax error as INVALID_ARGUMENT with path, line and column, and changes nothing', async () => {
      const cluster = await createCluster();

      const err = await rpcError(
        rpc<DeployResponse>((md, cb) =>
          deploys.deploy(
            { cluster, files: [serviceFile('fine.svc'), { path: 'broken.ts', content: 'const x = ;\n' }], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 },
            md,
            cb,
          ),
        ),
        status.INVALID_ARGUMENT,
      );

      expect(err.details).toBe('broken.ts:1:11: Expression expected');
      expect((await rpc<Cluster>((md, cb) => clusters.getCluster({ name: cluster }, md, cb))).revision).toBe(0);
    });

    it('deploys with wait_for NONE, lists the services, and undeploys', async () => {
      const cluster = await createCluster();

      const deployed = await rpc<DeployResponse>((md, cb) =>
        deploys.deploy(
          { cluster, files: [serviceFile('shop.cart'), serviceFile('shop.pay')], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 },
          md,
          cb,
        ),
      );
      expect(deployed.revision).toBe(1);
      expect(deployed.servers).toEqual([]);
      expect(deployed.services.map((s) => [s.name, s.lane, s.path, s.changed])).toEqual([
        ['shop.cart', Lane.LANE_NETWORK, 'services/shop.cart.ts', true],
        ['shop.pay', Lane.LANE_NETWORK, 'services/shop.pay.ts', true],
      ]);
      for (const s of deployed.services) expect(s.version).toMatch(/^[0-9a-f]{20}$/);

      const listed = await rpc<ListServicesResponse>((md, cb) => deploys.listServices({ cluster, pageSize: 0, pageToken: '', namePrefix: '' }, md, cb));
      expect(listed.revision).toBe(1);
      expect(listed.services.map((s) => [s.name, s.version, s.revision])).toEqual(
        deployed.services.map((s) => [s.name, s.version, 1]),
      );
      expect((await rpc<Cluster>((md, cb) => clusters.getCluster({ name: cluster }, md, cb))).serviceCount).toBe(2);

      // The same files again change nothing.
      const again = await rpc<DeployResponse>((md, cb) =>
        deploys.deploy(
          { cluster, files: [serviceFile('shop.cart'), serviceFile('shop.pay')], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 },
          md,
          cb,
        ),
      );
      expect(again.revision).toBe(1);
      expect(again.services.map((s) => s.changed)).toEqual([false, false]);

      const undeployed = await rpc<UndeployResponse>((md, cb) =>
        deploys.undeploy({ cluster, name: 'shop.pay', waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb),
      );
      expect(undeployed).toEqual({ revision: 2, servers: [] });
      const after = await rpc<ListServicesResponse>((md, cb) => deploys.listServices({ cluster, pageSize: 0, pageToken: '', namePrefix: '' }, md, cb));
      expect(after.services.map((s) => s.name)).toEqual(['shop.cart']);
    });

    it('returns at once with no results when waiting for the servers of a cluster that has none', async () => {
      const cluster = await createCluster();
      const started = performance.now();

      const deployed = await rpc<DeployResponse>((md, cb) =>
        deploys.deploy({ cluster, files: [serviceFile('alone.svc')], waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 5000 }, md, cb),
      );

      expect(deployed.servers).toEqual([]);
      expect(performance.now() - started).toBeLessThan(2000);
    });

    it('answers NOT_FOUND when undeploying a service that is not deployed', async () => {
      const cluster = await createCluster();

      const err = await rpcError(
        rpc<UndeployResponse>((md, cb) => deploys.undeploy({ cluster, name: 'never.deployed', waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb)),
        status.NOT_FOUND,
      );

      expect(err.details).toBe(`service 'never.deployed' is not deployed in cluster '${cluster}'`);
      expect((await rpc<Cluster>((md, cb) => clusters.getCluster({ name: cluster }, md, cb))).revision).toBe(0);
    });

    // Regression (found by the fuzz test): the error quoted the whole 100,000-character identifier,
    // grpc-js put it in an HTTP/2 trailer past 64 KiB, the answer never arrived, and every later call
    // on the same connection hung too.
    it('answers a file whose error quotes 100,000 characters with a cut message, and keeps answering', async () => {
      const cluster = await createCluster();
      const deadline = Date.now() + 10_000;

      const err = await rpcError(
        new Promise<DeployResponse>((resolve, reject) => {
          const request = { cluster, files: [{ path: 'huge.js', content: 'x'.repeat(100_000) }], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 };
          deploys.deploy(request, bearer(running.adminToken), { deadline }, (e, res) => (e ? reject(e) : resolve(res)));
        }),
        status.INVALID_ARGUMENT,
      );

      expect(err.details).toMatch(/^huge\.js: .*x{1000}.*\.\.\. \(cut: the message has \d+ characters\)$/);
      expect(Buffer.byteLength(err.details)).toBeLessThan(4200);
      // The same connection still answers.
      expect((await rpc<Cluster>((md, cb) => clusters.getCluster({ name: cluster }, md, cb))).revision).toBe(0);
    });
  });

  describe('InvokeService', () => {
    it('rejects input_json that is not JSON, naming the field and the value', async () => {
      const cluster = await createCluster();
      await rpc<DeployResponse>((md, cb) => deploys.deploy({ cluster, files: [serviceFile('json.svc')], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb));

      const err = await rpcError(
        rpc((md, cb) => invokes.invoke({ cluster, service: 'json.svc', inputJson: '{not json', timeoutMs: 300 }, md, cb)),
        status.INVALID_ARGUMENT,
      );

      expect(err.details).toContain('input_json');
      expect(err.details).toContain("'{not json'");
    });

    it('answers NOT_FOUND for a service that is not deployed', async () => {
      const cluster = await createCluster();

      const err = await rpcError(
        rpc((md, cb) => invokes.invoke({ cluster, service: 'ghost.svc', inputJson: '{}', timeoutMs: 300 }, md, cb)),
        status.NOT_FOUND,
      );

      expect(err.details).toBe(`service 'ghost.svc' is not deployed in cluster '${cluster}'`);
    });

    it('answers DEADLINE_EXCEEDED when no server runs the service within timeout_ms', async () => {
      const cluster = await createCluster();
      await rpc<DeployResponse>((md, cb) => deploys.deploy({ cluster, files: [serviceFile('lonely.svc')], waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }, md, cb));
      const started = performance.now();

      const err = await rpcError(
        rpc((md, cb) => invokes.invoke({ cluster, service: 'lonely.svc', inputJson: '{"n":1}', timeoutMs: 300 }, md, cb)),
        status.DEADLINE_EXCEEDED,
      );

      const elapsed = performance.now() - started;
      expect(err.details).toContain("'lonely.svc'");
      expect(err.details).toContain('300 ms');
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(3000);
    });
  });

  describe('ServerService', () => {
    it('lists no servers for a new cluster', async () => {
      const cluster = await createCluster();

      expect(await rpc<ListServersResponse>((md, cb) => servers.listServers({ cluster }, md, cb))).toEqual({ revision: 0, servers: [] });
    });

    it('answers NOT_FOUND for the servers of an unknown cluster', async () => {
      const missing = name('void');

      const err = await rpcError(rpc<ListServersResponse>((md, cb) => servers.listServers({ cluster: missing }, md, cb)), status.NOT_FOUND);

      expect(err.details).toContain(`'${missing}'`);
    });
  });

  describe('authentication', () => {
    it('refuses a call without a token, or with a wrong one', async () => {
      const missing = await rpcError(rpc<ListClustersResponse>((md, cb) => clusters.listClusters({}, md, cb), new Metadata()), status.UNAUTHENTICATED);
      const wrong = await rpcError(
        rpc<ListClustersResponse>((md, cb) => clusters.listClusters({}, md, cb), bearer(`lwa_${randomBytes(24).toString('base64url')}`)),
        status.UNAUTHENTICATED,
      );

      expect(missing.details).toContain('authorization: Bearer');
      expect(wrong.details).toContain('not valid');
    });

    it('lets a join token sync but not call the admin API', async () => {
      const cluster = await createCluster();
      const { token } = await rpc<JoinToken>((md, cb) => clusters.getJoinToken({ name: cluster }, md, cb));

      const err = await rpcError(
        rpc<ListServicesResponse>((md, cb) => deploys.listServices({ cluster, pageSize: 0, pageToken: '', namePrefix: '' }, md, cb), bearer(token)),
        status.PERMISSION_DENIED,
      );

      expect(err.details).toContain('ListServices needs the admin token');
      expect(err.details).not.toContain(token);
    });
  });
});
