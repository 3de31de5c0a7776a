/**
 * The CLI end to end against a real grpc-js server on 127.0.0.1: the in-test services record what
 * they receive and answer with fixed responses or gRPC errors; `run` executes in-process.
 */
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { sendUnaryData } from '@grpc/grpc-js';
import {
  ApplyOutcome,
  ClusterServiceService,
  DeployServiceService,
  InvokeServiceService,
  Lane,
  ServerServiceService,
  WaitFor,
} from '@laneway/proto';
import type {
  ClusterServiceServer,
  DeployRequest,
  DeployResponse,
  DeployServiceServer,
  InvokeRequest,
  InvokeServiceServer,
  ServerServiceServer,
} from '@laneway/proto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from './cli';

const VERSION = '0123456789abcdef0123456789abcdef';

interface Received<T> {
  readonly request: T;
  readonly authorization: readonly string[];
}

const received = {
  deploy: [] as Received<DeployRequest>[],
  invoke: [] as Received<InvokeRequest>[],
  invokeAsync: [] as Received<InvokeRequest>[],
  calls: [] as string[],
};

/** The one Deploy call the test made. */
function onlyDeploy(): Received<DeployRequest> {
  const [first, ...rest] = received.deploy;
  if (!first || rest.length > 0) throw new Error(`expected one Deploy call, got ${received.deploy.length}`);
  return first;
}

function notFound(callback: sendUnaryData<never>, details: string): void {
  callback({ code: status.NOT_FOUND, details });
}

function missingCluster(cluster: string): string {
  return `cluster '${cluster}' does not exist: create it with 'laneway cluster create ${cluster}'`;
}

function deployResponse(request: DeployRequest): DeployResponse {
  const servers =
    request.waitFor === WaitFor.WAIT_FOR_NONE
      ? []
      : request.cluster === 'flaky'
        ? [
            { server: 'srv-a', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 7, errors: [] },
            {
              server: 'srv-b',
              outcome: ApplyOutcome.APPLY_OUTCOME_NACKED,
              appliedRevision: 6,
              errors: [{ service: 'hello', message: 'cannot load: boom' }],
            },
            {
              server: 'srv-c',
              outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT,
              appliedRevision: 5,
              errors: [],
            },
          ]
        : [{ server: 'srv-a', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 7, errors: [] }];
  return {
    revision: 7,
    services: [
      { name: 'hello', version: VERSION, lane: Lane.LANE_NETWORK, path: 'services/hello.ts', changed: true },
      {
        name: 'resize',
        version: `fedcba9876543210${VERSION}`,
        lane: Lane.LANE_CPU,
        path: 'services/img/resize.ts',
        changed: false,
      },
    ],
    servers,
  };
}

const deployService: DeployServiceServer = {
  deploy(call, callback) {
    received.calls.push('deploy');
    received.deploy.push({
      request: call.request,
      authorization: call.metadata.get('authorization').map(String),
    });
    if (call.request.cluster === 'missing') return notFound(callback, missingCluster('missing'));
    callback(null, deployResponse(call.request));
  },
  listServices(call, callback) {
    received.calls.push('listServices');
    callback(null, {
      revision: 7,
      services: [
        {
          name: 'hello',
          version: VERSION,
          lane: Lane.LANE_NETWORK,
          path: 'services/hello.ts',
          revision: 7,
          updatedAt: '2025-01-02T03:04:05.000Z',
        },
      ],
    });
  },
  undeploy(call, callback) {
    received.calls.push('undeploy');
    if (call.request.name !== 'hello')
      return notFound(callback, `service '${call.request.name}' is not deployed`);
    callback(null, {
      revision: 8,
      servers: [
        { server: 'srv-a', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 8, errors: [] },
      ],
    });
  },
};

const invokeService: InvokeServiceServer = {
  invoke(call, callback) {
    received.calls.push('invoke');
    received.invoke.push({
      request: call.request,
      authorization: call.metadata.get('authorization').map(String),
    });
    if (call.request.service === 'slow') return; // never answers: the client's deadline must end it
    if (call.request.service !== 'hello') {
      return notFound(
        callback,
        `service '${call.request.service}' is not deployed in cluster '${call.request.cluster}'`,
      );
    }
    callback(null, { outputJson: '{"greeting":"hello, ada","n":[1,2]}', server: 'srv-a', version: VERSION });
  },
  invokeAsync(call, callback) {
    received.calls.push('invokeAsync');
    received.invokeAsync.push({ request: call.request, authorization: [] });
    callback(null, { jobId: 'job-42' });
  },
};

const clusterService: ClusterServiceServer = {
  createCluster(call, callback) {
    received.calls.push('createCluster');
    callback(null, {
      name: call.request.name,
      revision: 0,
      createdAt: '2025-01-02T03:04:05.000Z',
      serviceCount: 0,
    });
  },
  getCluster(call, callback) {
    notFound(callback, missingCluster(call.request.name));
  },
  listClusters(_call, callback) {
    received.calls.push('listClusters');
    callback(null, {
      clusters: [
        { name: 'default', revision: 7, createdAt: '2025-01-01T00:00:00.000Z', serviceCount: 2 },
        { name: 'staging', revision: 12, createdAt: '2025-01-03T00:00:00.000Z', serviceCount: 10 },
      ],
    });
  },
  deleteCluster(call, callback) {
    received.calls.push('deleteCluster');
    if (call.request.name !== 'staging') return notFound(callback, missingCluster(call.request.name));
    callback(null, {});
  },
};

const serverService: ServerServiceServer = {
  listServers(_call, callback) {
    received.calls.push('listServers');
    callback(null, {
      revision: 7,
      servers: [
        {
          name: 'srv-a',
          host: 'host-a',
          pid: 100,
          lanes: [Lane.LANE_NETWORK, Lane.LANE_CPU],
          connected: true,
          appliedRevision: 7,
          lastSeen: '2025-01-02T03:04:05.000Z',
          lastNack: [],
        },
        {
          name: 'srv-b',
          host: 'host-b',
          pid: 200,
          lanes: [Lane.LANE_NETWORK],
          connected: false,
          appliedRevision: 6,
          lastSeen: '2025-01-02T03:00:00.000Z',
          lastNack: [{ service: 'hello', message: 'cannot load: boom' }],
        },
      ],
    });
  },
};

describe('laneway CLI against a real gRPC server', () => {
  const server = new Server();
  let address = '';
  let root = '';

  beforeAll(async () => {
    server.addService(DeployServiceService, deployService);
    server.addService(InvokeServiceService, invokeService);
    server.addService(ClusterServiceService, clusterService);
    server.addService(ServerServiceService, serverService);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
    address = `127.0.0.1:${port}`;

    root = await mkdtemp(path.join(tmpdir(), 'laneway-cli-int-'));
    const files: Record<string, string> = {
      'services/hello.ts': "export default { name: 'hello' }; // ünïcödé\n",
      'services/img/resize.ts': 'export const resize = 1;\n',
      'services/img/resize.spec.ts': 'test file, never sent\n',
      'services/node_modules/dep/index.js': 'dependency, never sent\n',
      'services/types.d.ts': 'declare const x: number;\n',
      'extra.mjs': 'export const extra = true;\n',
    };
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), content);
    }
  });

  afterAll(async () => {
    server.forceShutdown();
    await rm(root, { recursive: true, force: true });
  });

  beforeEach(() => {
    received.deploy.length = 0;
    received.invoke.length = 0;
    received.invokeAsync.length = 0;
    received.calls.length = 0;
  });

  async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      env: { LANEWAY_CONTROL_PLANE: address, ...env },
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
      cwd: root,
    });
    return { code, stdout, stderr };
  }

  describe('deploy', () => {
    it('sends every file in one call, with paths relative to the working directory', async () => {
      const result = await cli(['deploy', 'services', 'extra.mjs', '--timeout', '2500'], {
        LANEWAY_TOKEN: 's3cret',
      });

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(received.deploy).toHaveLength(1);
      const { request, authorization } = onlyDeploy();
      expect(authorization).toEqual(['Bearer s3cret']);
      expect(request.cluster).toBe('default');
      expect(request.waitFor).toBe(WaitFor.WAIT_FOR_ALL_SERVERS);
      expect(request.timeoutMs).toBe(2500);
      expect(request.files).toEqual([
        { path: 'extra.mjs', content: 'export const extra = true;\n' },
        { path: 'services/hello.ts', content: "export default { name: 'hello' }; // ünïcödé\n" },
        { path: 'services/img/resize.ts', content: 'export const resize = 1;\n' },
      ]);
      expect(result.stdout).toBe(
        [
          'revision 7',
          'services:',
          '  hello   0123456789ab  network  changed',
          '  resize  fedcba987654  cpu      unchanged',
          'servers:',
          '  srv-a  ACKED  applied revision 7',
          '',
        ].join('\n'),
      );
    });

    it('--no-wait sets wait_for NONE; --cluster overrides LANEWAY_CLUSTER; no token, no authorization', async () => {
      const result = await cli(['--cluster', 'prod', 'deploy', '--no-wait', 'services/hello.ts'], {
        LANEWAY_CLUSTER: 'ignored',
      });

      expect(result.code).toBe(0);
      const { request, authorization } = onlyDeploy();
      expect(authorization).toEqual([]);
      expect(request.cluster).toBe('prod');
      expect(request.waitFor).toBe(WaitFor.WAIT_FOR_NONE);
      expect(request.timeoutMs).toBe(0);
      expect(request.files.map((f) => f.path)).toEqual(['services/hello.ts']);
      expect(result.stdout).toContain('servers: not waited for (--no-wait)');
    });

    it('exits 1 when a server NACKs or times out, printing each result and the errors', async () => {
      const result = await cli(['deploy', 'services'], { LANEWAY_CLUSTER: 'flaky' });

      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        [
          'servers:',
          '  srv-a  ACKED      applied revision 7',
          '  srv-b  NACKED     applied revision 6',
          '    hello: cannot load: boom',
          '  srv-c  TIMED_OUT  applied revision 5',
        ].join('\n'),
      );
      expect(result.stderr).toBe(
        'error: revision 7 was not applied by 2 of 3 servers (srv-b NACKED, srv-c TIMED_OUT)\n',
      );
    });

    it('--json prints the raw response', async () => {
      const result = await cli(['deploy', 'services', '--json']);

      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual(deployResponse(onlyDeploy().request));
    });

    it('reports the control plane error as STATUS: details with exit 1', async () => {
      const result = await cli(['deploy', 'services', '--cluster', 'missing']);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        "error: NOT_FOUND: cluster 'missing' does not exist: create it with 'laneway cluster create missing'\n",
      );
    });

    it('fails before calling anything when a path does not exist', async () => {
      const result = await cli(['deploy', 'nope']);

      expect(result.code).toBe(1);
      expect(result.stderr).toBe("error: cannot read 'nope': no such file or directory\n");
      expect(received.calls).toEqual([]);
    });
  });

  describe('invoke', () => {
    it('sends the input and prints the output pretty-printed, and the server on stderr', async () => {
      const result = await cli(['invoke', 'hello', '--data', '{"name":"ada"}', '--timeout', '1000']);

      expect(result.code).toBe(0);
      expect(received.invoke.map((r) => r.request)).toEqual([
        { cluster: 'default', service: 'hello', inputJson: '{"name":"ada"}', timeoutMs: 1000 },
      ]);
      expect(result.stdout).toBe('{\n  "greeting": "hello, ada",\n  "n": [\n    1,\n    2\n  ]\n}\n');
      expect(result.stderr).toBe('served by srv-a\n');
    });

    it('--async prints the job id', async () => {
      const result = await cli(['invoke', 'hello', '--async']);

      expect(result.code).toBe(0);
      expect(received.invokeAsync.map((r) => r.request)).toEqual([
        { cluster: 'default', service: 'hello', inputJson: '', timeoutMs: 0 },
      ]);
      expect(result.stdout).toBe('job job-42\n');
    });

    it('--json prints the raw response', async () => {
      const result = await cli(['--json', 'invoke', 'hello']);

      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        outputJson: '{"greeting":"hello, ada","n":[1,2]}',
        server: 'srv-a',
        version: VERSION,
      });
      expect(result.stderr).toBe('');
    });

    it('reports NOT_FOUND with exit 1', async () => {
      const result = await cli(['invoke', 'nope']);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe("error: NOT_FOUND: service 'nope' is not deployed in cluster 'default'\n");
    });

    it('rejects --data that is not JSON without calling the control plane (exit 2, usage)', async () => {
      const result = await cli(['invoke', 'hello', '--data', '{oops}']);

      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: invalid --data '\{oops\}': not valid JSON/);
      expect(result.stderr).toContain('Usage: laneway invoke NAME [--data JSON] [--async] [--timeout MS]');
      expect(received.calls).toEqual([]);
    });

    it('ends a call that gets no answer at the deadline', async () => {
      const started = Date.now();
      const result = await cli(['invoke', 'slow', '--deadline', '300']);

      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: DEADLINE_EXCEEDED: /);
      expect(result.stderr).not.toContain('cannot reach');
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('listing and cluster commands', () => {
    it('services prints a table', async () => {
      const result = await cli(['services']);

      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        [
          'NAME   VERSION       LANE     REVISION  UPDATED                   PATH',
          'hello  0123456789ab  network  7         2025-01-02T03:04:05.000Z  services/hello.ts',
          '',
        ].join('\n'),
      );
    });

    it('servers prints connection, revision, lanes, last seen and last nack', async () => {
      const result = await cli(['servers']);

      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        [
          'NAME   CONNECTED  APPLIED REVISION  LANES        LAST SEEN                 LAST NACK',
          'srv-a  yes        7                 network,cpu  2025-01-02T03:04:05.000Z  -',
          'srv-b  no         6                 network      2025-01-02T03:00:00.000Z  hello: cannot load: boom',
          '',
        ].join('\n'),
      );
    });

    it('clusters, cluster create and cluster delete', async () => {
      const list = await cli(['clusters']);
      expect(list.code).toBe(0);
      expect(list.stdout).toBe(
        [
          'NAME     REVISION  SERVICES  CREATED',
          'default  7         2         2025-01-01T00:00:00.000Z',
          'staging  12        10        2025-01-03T00:00:00.000Z',
          '',
        ].join('\n'),
      );

      const created = await cli(['cluster', 'create', 'prod']);
      expect(created).toEqual({ code: 0, stdout: 'created cluster prod\n', stderr: '' });

      const deleted = await cli(['cluster', 'delete', 'staging']);
      expect(deleted).toEqual({ code: 0, stdout: 'deleted cluster staging\n', stderr: '' });

      const missing = await cli(['cluster', 'delete', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(
        "error: NOT_FOUND: cluster 'nope' does not exist: create it with 'laneway cluster create nope'\n",
      );
      expect(received.calls).toEqual(['listClusters', 'createCluster', 'deleteCluster', 'deleteCluster']);
    });

    it('undeploy prints the revision and the servers', async () => {
      const result = await cli(['undeploy', 'hello']);

      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        'undeployed hello: revision 8\nservers:\n  srv-a  ACKED  applied revision 8\n',
      );
    });
  });

  describe('usage', () => {
    it('--help prints the usage on stdout with exit 0', async () => {
      const result = await cli(['--help']);

      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: laneway/);
      expect(result.stdout).toContain('cluster create NAME');
      expect(result.stderr).toBe('');
    });

    it('an unknown command prints the error and the usage with exit 2', async () => {
      const result = await cli(['frobnicate']);

      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: unknown command 'frobnicate'\n\nUsage: laneway/);
      expect(received.calls).toEqual([]);
    });
  });

  it('explains an unreachable control plane (UNAVAILABLE, exit 1)', async () => {
    const unusedPort = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const bound = probe.address();
        probe.close(() =>
          typeof bound === 'object' && bound ? resolve(bound.port) : reject(new Error('no port')),
        );
      });
    });
    const target = `127.0.0.1:${unusedPort}`;

    const result = await cli(['services', '--deadline', '3000'], { LANEWAY_CONTROL_PLANE: target });

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: UNAVAILABLE: cannot reach the control plane at ${target}: is it running? (set LANEWAY_CONTROL_PLANE)\n`,
    );
  });
});
