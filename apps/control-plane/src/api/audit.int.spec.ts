// The audit log on a real control plane (embedded store, real Redis): every audited RPC of the .proto
// files writes a record whether it succeeds or is refused, a scripted series of changes reads back in
// order with its revisions, and no record holds a secret or a token.
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceClient, type AuditRecord } from '@laneway/proto';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Root, Service, Namespace, type ReflectionObject, type Type } from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { DEFAULT_LIMITS } from '../limits';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';
import { deleteRedisPrefix } from '../testing/redis-prefix';
import { isAudited } from './audit-middleware';

const PROTO_ROOT = join(__dirname, '../../../../proto');
const CLUSTER = `audit-${randomBytes(4).toString('hex')}`;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const API_KEY = `key-${randomBytes(16).toString('hex')}`;

interface UnaryMethod {
  path: string;
  name: string;
  request: Type;
}

function unaryMethods(): UnaryMethod[] {
  const root = new Root();
  root.resolvePath = (_origin, file) => join(PROTO_ROOT, file);
  root.loadSync(
    readdirSync(join(PROTO_ROOT, 'laneway/v1')).map((file) => `laneway/v1/${file}`),
    { keepCase: true },
  );
  root.resolveAll();
  const found: UnaryMethod[] = [];
  const walk = (object: ReflectionObject): void => {
    if (object instanceof Service) {
      for (const method of object.methodsArray) {
        if (method.requestStream || method.responseStream) continue;
        found.push({ path: `/${object.fullName.slice(1)}/${method.name}`, name: method.name, request: method.resolvedRequestType! });
      }
    }
    if (object instanceof Namespace) object.nestedArray.forEach(walk);
  };
  walk(root);
  return found;
}

describe('the audit log', () => {
  const prefix = `lwtest-audit-${randomBytes(6).toString('hex')}`;
  let dataDir: string;
  let running: RunningControlPlane;
  let client: Client;
  let audit: AuditServiceClient;

  const metadata = (): Metadata => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${running.adminToken}`);
    return md;
  };

  /** One call with a request built from the .proto; resolves to its status code. */
  function call(m: UnaryMethod, request: Record<string, unknown>): Promise<number> {
    const body = Buffer.from(m.request.encode(m.request.fromObject(request)).finish());
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        m.path,
        (x: Buffer) => x,
        (x: Buffer) => x,
        body,
        metadata(),
        { deadline: Date.now() + 15_000 },
        (err: ServiceError | null) => resolve(err ? err.code : status.OK),
      );
    });
  }

  const records = (req: { cluster?: string; pageSize?: number; pageToken?: string } = {}): Promise<{ records: AuditRecord[]; nextPageToken: string }> =>
    new Promise((resolve, reject) =>
      audit.listAuditRecords({ cluster: '', since: '', pageSize: 1000, pageToken: '', ...req }, metadata(), (err, res) => (err ? reject(err) : resolve(res))),
    );

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'laneway-audit-'));
    running = await startControlPlane(
      {
        grpcAddress: '127.0.0.1:0',
        dataDir,
        databaseUrl: undefined,
        redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
        queuePrefix: prefix,
        adminToken: undefined,
        logLevel: 'silent',
        limits: DEFAULT_LIMITS,
        compile: TEST_COMPILE,
        httpAddress: undefined,
      },
      pino({ level: 'silent' }),
      { compileWorkerPath: await compileWorkerBundle() },
    );
    client = new Client(`127.0.0.1:${running.port}`, credentials.createInsecure());
    audit = new AuditServiceClient(`127.0.0.1:${running.port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    audit?.close();
    await running?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await deleteRedisPrefix(prefix);
  });

  const byName = (name: string): UnaryMethod => unaryMethods().find((m) => m.name === name)!;

  it('records a scripted series of changes in order, with revisions, the actor and the peer, and no secret', async () => {
    expect(await call(byName('CreateCluster'), { name: CLUSTER })).toBe(status.OK);
    expect(
      await call(byName('CreateConnection'), {
        cluster: CLUSTER,
        name: 'db',
        spec: { postgres: { host: '127.0.0.1', port: 5432, database: 'test', user: 'someone', password: PASSWORD, tls_mode: 'disable' } },
        wait_for: 2,
      }),
    ).toBe(status.OK);
    expect(await call(byName('CreateSecurityDefinition'), { cluster: CLUSTER, name: 'partners', api_key: { header: 'X-Api-Key', key: API_KEY }, wait_for: 2 })).toBe(status.OK);
    expect(await call(byName('DeleteChannel'), { cluster: CLUSTER, name: 'no-such-channel', wait_for: 2 })).toBe(status.NOT_FOUND);
    expect(await call(byName('DeleteSecurityDefinition'), { cluster: CLUSTER, name: 'partners', wait_for: 2 })).toBe(status.OK);

    const mine = (await records({ cluster: CLUSTER })).records.reverse();
    expect(mine.map((r) => [r.rpc.split('/')[1], r.kind, r.name, r.outcome])).toEqual([
      ['CreateCluster', 'cluster', '', 'OK'],
      ['CreateConnection', 'connection', 'db', 'OK'],
      ['CreateSecurityDefinition', 'security', 'partners', 'OK'],
      ['DeleteChannel', 'channel', 'no-such-channel', 'NOT_FOUND'],
      ['DeleteSecurityDefinition', 'security', 'partners', 'OK'],
    ]);
    // Each committed change moved the revision by one, in the change's own transaction.
    expect(mine[1]).toMatchObject({ revisionBefore: 0, revisionAfter: 1, actor: 'admin' });
    expect(mine[2]).toMatchObject({ revisionBefore: 1, revisionAfter: 2 });
    expect(mine[3]).toMatchObject({ revisionBefore: 2, revisionAfter: 2 });
    expect(mine[3]?.message).toContain('no-such-channel');
    expect(mine[4]).toMatchObject({ revisionBefore: 2, revisionAfter: 3 });
    for (const r of mine) {
      expect(r.peer).toMatch(/127\.0\.0\.1/);
      expect(Date.parse(r.at)).toBeGreaterThan(Date.now() - 60_000);
    }
    const text = JSON.stringify((await records()).records);
    for (const secret of [PASSWORD, API_KEY, running.adminToken]) expect(text.includes(secret)).toBe(false);
  });

  it('writes a record for every audited RPC of the .proto files, succeeded or refused', async () => {
    const audited = unaryMethods().filter((m) => isAudited(m.name));
    // Reads are not audited; everything else is, and the list holds the calls that change state.
    expect(audited.map((m) => m.name)).toEqual(expect.arrayContaining(['Deploy', 'Rollback', 'Undeploy', 'Apply', 'DrainServer', 'ResumeServer', 'RotateSecretKey', 'RotateJoinToken', 'Promote', 'Follow', 'Invoke']));
    expect(audited.some((m) => /^(List|Describe)/.test(m.name))).toBe(false);
    const target = `audit-all-${randomBytes(3).toString('hex')}`;
    expect(await call(byName('CreateCluster'), { name: target })).toBe(status.OK);
    for (const m of audited) {
      if (m.name === 'DeleteCluster') continue;
      // A request that names the cluster and little else: most are refused, which is audited too.
      await call(m, m.name === 'CreateCluster' ? { name: `${target}-x` } : { cluster: target, name: 'x', service: 'x', server: 'x', job_id: 'x', source_address: '127.0.0.1:1', token: 'lwm_x' });
    }
    expect(await call(byName('DeleteCluster'), { name: target })).toBe(status.OK);
    const all: AuditRecord[] = [];
    let pageToken = '';
    do {
      const page = await records({ pageSize: 50, pageToken });
      all.push(...page.records);
      pageToken = page.nextPageToken;
    } while (pageToken);
    const seen = new Set(all.map((r) => `/${r.rpc}`));
    const missing = audited.map((m) => m.path).filter((p) => !seen.has(p));
    expect(missing).toEqual([]);
    // Newest first, ids strictly falling across pages.
    const ids = all.map((r) => r.id);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a page token it did not give and a since that is not a time', async () => {
    await expect(records({ pageToken: 'abc' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(
      new Promise((resolve, reject) => audit.listAuditRecords({ cluster: '', since: 'yesterday', pageSize: 0, pageToken: '' }, metadata(), (err, res) => (err ? reject(err) : resolve(res)))),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('since') });
  });
});
