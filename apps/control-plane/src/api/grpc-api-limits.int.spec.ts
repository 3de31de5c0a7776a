import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  ClusterServiceClient,
  DeployServiceClient,
  InvokeServiceClient,
  ServerServiceClient,
  WaitFor,
  type Cluster,
  type DeployResponse,
  type SourceFile,
} from '@laneway/proto';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { maxReceiveMessageBytes, type Limits } from '../limits';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

// Small limits, so that every one of them is cheap to pass.
const LIMITS: Limits = {
  maxDeployFiles: 3,
  maxFileBytes: 2000,
  maxDeployBytes: 3000,
  maxPathLength: 40,
  maxInvokeInputBytes: 200,
  maxInvokeInputDepth: 8,
  maxNameLength: 30,
  maxTimeoutMs: 2000,
  maxListLimit: 5,
};

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

function serviceFile(name: string): SourceFile {
  return {
    path: `${name}.ts`,
    content: `import { defineService } from '@laneway/sdk';\nexport default defineService({ name: '${name}', handle: () => 'ok' });\n`,
  };
}

describe('the limits of the gRPC API', () => {
  const prefix = `lwtest-limits-${randomBytes(6).toString('hex')}`;
  const cluster = 'limits';
  let dataDir: string;
  let running: RunningControlPlane;
  let clusters: ClusterServiceClient;
  let deploys: DeployServiceClient;
  let invokes: InvokeServiceClient;
  let servers: ServerServiceClient;

  function admin(): Metadata {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${running.adminToken}`);
    return metadata;
  }

  function rpc<Res>(invoke: (metadata: Metadata, cb: Callback<Res>) => unknown): Promise<Res> {
    return new Promise((resolve, reject) => {
      invoke(admin(), (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  /** The call's error; fails the test when the call succeeds or its status is not `code`. */
  async function failure<Res>(
    call: (metadata: Metadata, cb: Callback<Res>) => unknown,
    code: status,
  ): Promise<ServiceError> {
    const err = await rpc(call).then(
      (res) => {
        throw new Error(`expected ${status[code]}, got a response: ${JSON.stringify(res)}`);
      },
      (e: unknown) => e as ServiceError,
    );
    expect(err.code, `status of: ${err.details}`).toBe(code);
    return err;
  }

  /** Expects RESOURCE_EXHAUSTED with exactly `details`, and the LIMIT_EXCEEDED code in the trailers. */
  async function overLimit<Res>(
    call: (metadata: Metadata, cb: Callback<Res>) => unknown,
    details: string,
  ): Promise<void> {
    const err = await failure(call, status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(details);
    expect(err.metadata.get('laneway-error-code')).toEqual(['LIMIT_EXCEEDED']);
  }

  const deploy =
    (files: SourceFile[], timeoutMs = 0) =>
    (md: Metadata, cb: Callback<DeployResponse>) =>
      deploys.deploy({ cluster, files, waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs }, md, cb);

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'laneway-limits-'));
    running = await startControlPlane(
      {
        grpcAddress: '127.0.0.1:0',
        dataDir,
        databaseUrl: undefined,
        redisUrl: REDIS_URL,
        queuePrefix: prefix,
        adminToken: undefined,
        logLevel: 'silent',
        limits: LIMITS,
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
    await rpc<Cluster>((md, cb) => clusters.createCluster({ name: cluster }, md, cb));
    await rpc<DeployResponse>(deploy([serviceFile('svc.one')]));
  });

  afterAll(async () => {
    for (const client of [clusters, deploys, invokes, servers]) client?.close();
    await running?.close();
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  describe('Deploy', () => {
    it('accepts a deploy at every limit', async () => {
      const padded = serviceFile('svc.c');
      const files = [
        serviceFile('svc.a'),
        serviceFile('svc.b'),
        { path: `${'p'.repeat(37)}.ts`, content: `${padded.content}// ${'x'.repeat(900)}\n` },
      ];

      const deployed = await rpc<DeployResponse>(deploy(files, 2000));

      expect(deployed.services.map((s) => s.name)).toEqual(['svc.a', 'svc.b', 'svc.c']);
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_DEPLOY_FILES', async () => {
      await overLimit(
        deploy(['a', 'b', 'c', 'd'].map(serviceFile)),
        'the deploy has 4 files; the limit is LANEWAY_MAX_DEPLOY_FILES=3: deploy them in several calls, or raise LANEWAY_MAX_DEPLOY_FILES on the control plane',
      );
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_FILE_BYTES and the file', async () => {
      await overLimit(
        deploy([serviceFile('ok'), { path: 'big.ts', content: 'x'.repeat(2001) }]),
        "files[1] 'big.ts' is 2001 bytes; the limit is LANEWAY_MAX_FILE_BYTES=2000: split it into smaller files, or raise LANEWAY_MAX_FILE_BYTES on the control plane",
      );
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_DEPLOY_BYTES', async () => {
      await overLimit(
        deploy([
          { path: 'a.ts', content: 'x'.repeat(1500) },
          { path: 'b.ts', content: 'x'.repeat(1501) },
        ]),
        'the 2 files of the deploy are 3001 bytes together; the limit is LANEWAY_MAX_DEPLOY_BYTES=3000: deploy them in several calls, or raise LANEWAY_MAX_DEPLOY_BYTES on the control plane',
      );
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_PATH_LENGTH and the path', async () => {
      const path = `services/${'deep/'.repeat(7)}x.ts`;

      await overLimit(
        deploy([{ path, content: '' }]),
        `files[0].path '${path}' is 48 characters; the limit is LANEWAY_MAX_PATH_LENGTH=40: use a shorter path, or raise LANEWAY_MAX_PATH_LENGTH on the control plane`,
      );
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_TIMEOUT_MS on Deploy, Undeploy and Rollback', async () => {
      const message = (ms: number) =>
        `timeout_ms is ${ms} ms; the limit is LANEWAY_MAX_TIMEOUT_MS=2000: wait less (0 means the default), or raise LANEWAY_MAX_TIMEOUT_MS on the control plane`;

      await overLimit(deploy([serviceFile('svc.one')], 2001), message(2001));
      await overLimit(
        (md, cb) =>
          deploys.undeploy(
            { cluster, name: 'svc.one', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 4294967295 },
            md,
            cb,
          ),
        message(4294967295),
      );
      await overLimit(
        (md, cb) =>
          deploys.rollback(
            {
              cluster,
              service: 'svc.one',
              version: 'abcdef',
              waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
              timeoutMs: 2147483647,
            },
            md,
            cb,
          ),
        message(2147483647),
      );
    });

    it('refuses NUL in a file and control characters in a path with INVALID_ARGUMENT', async () => {
      const nul = await failure(
        deploy([{ path: 'nul.ts', content: 'export const a = 1;\0' }]),
        status.INVALID_ARGUMENT,
      );
      const control = await failure(deploy([{ path: 'tab\there.ts', content: '' }]), status.INVALID_ARGUMENT);

      expect(nul.details).toBe(
        "files[0] 'nul.ts' contains a NUL character at offset 19: a service file is text (write '\\0' in a string literal instead)",
      );
      expect(control.details).toBe(
        "files[0].path 'tab\\u0009here.ts' contains a control character: use printable characters only",
      );
    });

    it('leaves a message larger than every limit allows to gRPC, which answers RESOURCE_EXHAUSTED itself', async () => {
      const bound = maxReceiveMessageBytes(LIMITS);
      expect(bound).toBe(3000 + 3 * (3 * 40 + 16) + 1024 * 1024);

      const err = await failure(
        deploy([{ path: 'huge.ts', content: 'x'.repeat(bound + 1) }]),
        status.RESOURCE_EXHAUSTED,
      );

      expect(err.details).toMatch(/^Received message larger than max \(\d+ vs \d+\)$/);
      expect(err.metadata.get('laneway-error-code')).toEqual([]);
    });
  });

  describe('names', () => {
    const long = 'n'.repeat(31);
    const message = (field: string) =>
      `${field} '${long}' is 31 characters; the limit is LANEWAY_MAX_NAME_LENGTH=30: use a shorter one, or raise LANEWAY_MAX_NAME_LENGTH on the control plane`;

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_NAME_LENGTH for every kind of name', async () => {
      await overLimit((md, cb) => clusters.getCluster({ name: long }, md, cb), message('name'));
      await overLimit((md, cb) => clusters.createCluster({ name: long }, md, cb), message('name'));
      await overLimit((md, cb) => deploys.listServices({ cluster: long, pageSize: 0, pageToken: '', namePrefix: '' }, md, cb), message('cluster'));
      await overLimit(
        (md, cb) => invokes.invoke({ cluster, service: long, inputJson: '', timeoutMs: 100 }, md, cb),
        message('service'),
      );
      await overLimit(
        (md, cb) =>
          deploys.rollback({ cluster, service: 'svc.one', version: long, waitFor: 0, timeoutMs: 0 }, md, cb),
        message('version'),
      );
      await overLimit((md, cb) => servers.drainServer({ cluster, server: long }, md, cb), message('server'));
      await overLimit((md, cb) => invokes.getJob({ cluster, jobId: long }, md, cb), message('job_id'));
      await overLimit(
        (md, cb) => invokes.listFailedJobs({ cluster, service: long, limit: 0, pageSize: 0, pageToken: '' }, md, cb),
        message('service'),
      );
    });

    it('refuses NUL and other control characters in names with INVALID_ARGUMENT naming the field and value', async () => {
      const onCluster = await failure(
        (md, cb) => clusters.getCluster({ name: 'prod\u0000' }, md, cb),
        status.INVALID_ARGUMENT,
      );
      const onServer = await failure(
        (md, cb) => servers.resumeServer({ cluster, server: 'r1\r\nx' }, md, cb),
        status.INVALID_ARGUMENT,
      );

      expect(onCluster.details).toBe(
        "name 'prod\\u0000' contains the control character U+0000 at offset 4: use printable characters only",
      );
      expect(onServer.details).toBe(
        "server 'r1\\u000d\\u000ax' contains the control character U+000D at offset 2: use printable characters only",
      );
    });
  });

  describe('InvokeService', () => {
    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_INVOKE_INPUT_BYTES on Invoke and InvokeAsync', async () => {
      const input = JSON.stringify('x'.repeat(199));
      const message =
        'input_json is 201 bytes; the limit is LANEWAY_MAX_INVOKE_INPUT_BYTES=200: send a smaller input (pass large data by reference), or raise LANEWAY_MAX_INVOKE_INPUT_BYTES on the control plane';

      await overLimit(
        (md, cb) => invokes.invoke({ cluster, service: 'svc.one', inputJson: input, timeoutMs: 100 }, md, cb),
        message,
      );
      await overLimit(
        (md, cb) =>
          invokes.invokeAsync({ cluster, service: 'svc.one', inputJson: input, timeoutMs: 0 }, md, cb),
        message,
      );
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_INVOKE_INPUT_DEPTH', async () => {
      await overLimit(
        (md, cb) =>
          invokes.invokeAsync(
            { cluster, service: 'svc.one', inputJson: `${'['.repeat(9)}${']'.repeat(9)}`, timeoutMs: 0 },
            md,
            cb,
          ),
        'input_json nests arrays and objects more than 8 levels deep; the limit is LANEWAY_MAX_INVOKE_INPUT_DEPTH=8: flatten the input, or raise LANEWAY_MAX_INVOKE_INPUT_DEPTH on the control plane',
      );
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_TIMEOUT_MS on Invoke', async () => {
      await overLimit(
        (md, cb) => invokes.invoke({ cluster, service: 'svc.one', inputJson: '', timeoutMs: 2001 }, md, cb),
        'timeout_ms is 2001 ms; the limit is LANEWAY_MAX_TIMEOUT_MS=2000: wait less (0 means the default), or raise LANEWAY_MAX_TIMEOUT_MS on the control plane',
      );
    });

    it('answers RESOURCE_EXHAUSTED naming LANEWAY_MAX_LIST_LIMIT on ListFailedJobs', async () => {
      await overLimit(
        (md, cb) => invokes.listFailedJobs({ cluster, service: '', limit: 6, pageSize: 0, pageToken: '' }, md, cb),
        'limit asks for 6 items; the limit is LANEWAY_MAX_LIST_LIMIT=5: ask for fewer, or raise LANEWAY_MAX_LIST_LIMIT on the control plane',
      );
      expect(
        await rpc((md, cb) => invokes.listFailedJobs({ cluster, service: '', limit: 5, pageSize: 0, pageToken: '' }, md, cb)),
      ).toEqual({ jobs: [], nextPageToken: '' });
    });

    // Regression: V8's JSON.parse message quotes the input cut in the middle of the emoji; grpc-js
    // could not encode the half surrogate, threw, and the call was never answered.
    it('answers input_json that is an emoji, not JSON, with INVALID_ARGUMENT', async () => {
      const err = await failure(
        (md, cb) => invokes.invoke({ cluster, service: 'svc.one', inputJson: '😀', timeoutMs: 100 }, md, cb),
        status.INVALID_ARGUMENT,
      );

      expect(err.details).toContain("input_json '😀' is not valid JSON: Unexpected token '\ufffd'");
    });
  });
});
