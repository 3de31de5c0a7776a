// Users and roles on a real control plane (embedded store, real Redis): every unary RPC of the .proto
// files walked with a viewer's token (anything above viewer must be PERMISSION_DENIED), an operator's
// operational calls let through and its deploy refused, revoked and expired tokens refused, the Login
// limit, no password or token in the database file, and the bootstrap `admin` user.
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Namespace, Root, Service, type ReflectionObject, type Type } from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { RPC_ROLES } from '../auth/rpc-roles';
import { DEFAULT_LIMITS } from '../limits';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';
import { deleteRedisPrefix } from '../testing/redis-prefix';

const PROTO_ROOT = join(__dirname, '../../../../proto');
const CLUSTER = `users-${randomBytes(4).toString('hex')}`;
const suffix = randomBytes(3).toString('hex');
const VIEWER = `viewer-${suffix}`;
const OPERATOR = `operator-${suffix}`;
const ADMIN = `boss-${suffix}`;
const PASSWORDS: Record<string, string> = {
  [VIEWER]: `pw-viewer-${randomBytes(12).toString('hex')}`,
  [OPERATOR]: `pw-operator-${randomBytes(12).toString('hex')}`,
  [ADMIN]: `pw-admin-${randomBytes(12).toString('hex')}`,
};
const ROLE_ENUM = { viewer: 1, operator: 2, admin: 3 } as const;

interface Rpc {
  path: string;
  name: string;
  request: Type;
  response: Type;
}

function unaryRpcs(): Rpc[] {
  const root = new Root();
  root.resolvePath = (_origin, file) => join(PROTO_ROOT, file);
  root.loadSync(
    readdirSync(join(PROTO_ROOT, 'laneway/v1')).map((file) => `laneway/v1/${file}`),
    { keepCase: true },
  );
  root.resolveAll();
  const found: Rpc[] = [];
  const walk = (object: ReflectionObject): void => {
    if (object instanceof Service) {
      for (const method of object.methodsArray) {
        if (method.requestStream || method.responseStream) continue;
        found.push({ path: `/${object.fullName.slice(1)}/${method.name}`, name: method.name, request: method.resolvedRequestType!, response: method.resolvedResponseType! });
      }
    }
    if (object instanceof Namespace) object.nestedArray.forEach(walk);
  };
  walk(root);
  return found;
}

interface Answer {
  code: status;
  details: string;
  body: Record<string, unknown>;
}

describe('users and roles', () => {
  const prefix = `lwtest-users-${randomBytes(6).toString('hex')}`;
  const rpcs = unaryRpcs();
  const byName = (name: string): Rpc => rpcs.find((m) => m.name === name)!;
  let dataDir: string;
  let running: RunningControlPlane;
  let client: Client;
  const tokens: Record<string, string> = {};

  /** One call with a request built from the .proto, as the holder of `token` ('' sends none). */
  function call(m: Rpc | string, request: Record<string, unknown>, token: string): Promise<Answer> {
    const rpc = typeof m === 'string' ? byName(m) : m;
    const body = Buffer.from(rpc.request.encode(rpc.request.fromObject(request)).finish());
    const metadata = new Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        rpc.path,
        (x: Buffer) => x,
        (x: Buffer) => x,
        body,
        metadata,
        { deadline: Date.now() + 15_000 },
        (err: ServiceError | null, response?: Buffer) =>
          resolve({
            code: err ? err.code : status.OK,
            details: err?.details ?? '',
            body: response ? (rpc.response.toObject(rpc.response.decode(response), { defaults: true, longs: Number, enums: Number }) as Record<string, unknown>) : {},
          }),
      );
    });
  }

  async function ok(m: string, request: Record<string, unknown>, token: string): Promise<Record<string, unknown>> {
    const answer = await call(m, request, token);
    if (answer.code !== status.OK) throw new Error(`${m} answered ${status[answer.code]}: ${answer.details}`);
    return answer.body;
  }

  /** A minimal request naming the real cluster (and nothing that exists besides). */
  const minimal = (m: Rpc): Record<string, unknown> => (m.path.includes('ClusterService/') ? { name: CLUSTER } : { cluster: CLUSTER });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'laneway-users-'));
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
    await ok('CreateCluster', { name: CLUSTER }, running.adminToken);
    for (const [name, role] of [
      [VIEWER, 'viewer'],
      [OPERATOR, 'operator'],
      [ADMIN, 'admin'],
    ] as const) {
      const user = await ok('CreateUser', { username: name, password: PASSWORDS[name], role: ROLE_ENUM[role] }, running.adminToken);
      expect(user).toMatchObject({ username: name, role: ROLE_ENUM[role] });
      const created = await ok('CreateToken', { username: name, name: 'test' }, running.adminToken);
      expect(created['token']).toMatch(/^lwu_/);
      tokens[name] = String(created['token']);
    }
  });

  afterAll(async () => {
    client?.close();
    await running?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await deleteRedisPrefix(prefix);
  });

  it("refuses every RPC above viewer to a viewer's token, and lets every viewer RPC through", async () => {
    const refusedAsExpected: string[] = [];
    const wrong: string[] = [];
    for (const m of rpcs) {
      const rule = RPC_ROLES[m.path];
      expect(rule, `${m.path} has a rule`).toBeDefined();
      if (rule === 'anyone') continue;
      const answer = await call(m, minimal(m), tokens[VIEWER]!);
      if (rule === 'viewer') {
        if (answer.code === status.PERMISSION_DENIED || answer.code === status.UNAUTHENTICATED) wrong.push(`${m.path} (viewer) answered ${status[answer.code]}: ${answer.details}`);
      } else if (answer.code !== status.PERMISSION_DENIED) {
        wrong.push(`${m.path} (${rule}) answered ${status[answer.code]}: ${answer.details}`);
      } else {
        refusedAsExpected.push(m.name);
      }
    }
    expect(wrong).toEqual([]);
    expect(refusedAsExpected).toEqual(expect.arrayContaining(['Deploy', 'DeleteCluster', 'GetJoinToken', 'CreateMirrorToken', 'Export', 'DrainServer', 'Invoke', 'CreateUser', 'SetRole', 'HandOver']));
    // The cluster is still there, unchanged.
    expect(await ok('GetCluster', { name: CLUSTER }, tokens[VIEWER]!)).toMatchObject({ name: CLUSTER, revision: 0 });
    // The refusal names the role, and the audit log names the user.
    const denied = await call('Deploy', { cluster: CLUSTER }, tokens[VIEWER]!);
    expect(denied.details).toBe(`Deploy needs the admin role; user '${VIEWER}' is a viewer`);
    const audit = await ok('ListAuditRecords', { cluster: CLUSTER, page_size: 1000 }, tokens[VIEWER]!);
    const records = audit['records'] as { rpc: string; actor: string; outcome: string }[];
    expect(records).toContainEqual(expect.objectContaining({ rpc: 'laneway.v1.DeployService/Deploy', actor: `user:${VIEWER}`, outcome: 'PERMISSION_DENIED' }));
  });

  it("refuses another site's calls to a token that may not make them before reading the request (the fuzz test's find: a join token got 'cluster is empty')", async () => {
    for (const method of ['HandOver', 'StepDown']) {
      for (const [who, token] of [
        ['viewer', tokens[VIEWER]!],
        ['admin', running.adminToken],
      ] as const) {
        for (const cluster of ['', 'not a name!', CLUSTER]) {
          const answer = await call(method, { cluster }, token);
          expect(answer.code, `${method} with the ${who} token, cluster '${cluster}': ${answer.details}`).toBe(status.PERMISSION_DENIED);
        }
      }
    }
  });

  it('lets an operator drain, resume, invoke, retry, pause and test, and refuses it deploy and every admin RPC', async () => {
    for (const m of rpcs.filter((r) => RPC_ROLES[r.path] === 'operator')) {
      const answer = await call(m, minimal(m), tokens[OPERATOR]!);
      expect([status.PERMISSION_DENIED, status.UNAUTHENTICATED], `${m.path} answered ${status[answer.code]}: ${answer.details}`).not.toContain(answer.code);
    }
    for (const m of rpcs.filter((r) => RPC_ROLES[r.path] === 'admin')) {
      const answer = await call(m, minimal(m), tokens[OPERATOR]!);
      expect(answer.code, `${m.path}: ${answer.details}`).toBe(status.PERMISSION_DENIED);
    }
    const deploy = await call('Deploy', { cluster: CLUSTER, files: [{ path: 'x.ts', content: 'export default {}' }] }, tokens[OPERATOR]!);
    expect(deploy.code).toBe(status.PERMISSION_DENIED);
    expect(deploy.details).toContain(`user '${OPERATOR}' is an operator`);
  });

  it("lets an admin user's token do admin calls", async () => {
    const other = `${CLUSTER}-by-admin-user`;
    expect(await ok('CreateCluster', { name: other }, tokens[ADMIN]!)).toMatchObject({ name: other });
    expect(await ok('GetJoinToken', { name: other }, tokens[ADMIN]!)).toMatchObject({ token: expect.stringMatching(/^lwj_/) });
    const users = (await ok('ListUsers', {}, tokens[ADMIN]!))['users'] as { username: string }[];
    expect(users.map((u) => u.username)).toEqual(expect.arrayContaining(['admin', VIEWER, OPERATOR, ADMIN]));
    await ok('DeleteCluster', { name: other }, tokens[ADMIN]!);
  });

  it('lets a user manage only their own password and tokens', async () => {
    expect((await call('SetPassword', { username: OPERATOR, password: 'x'.repeat(12) }, tokens[VIEWER]!)).code).toBe(status.PERMISSION_DENIED);
    expect((await call('CreateToken', { username: OPERATOR, name: 'steal' }, tokens[VIEWER]!)).code).toBe(status.PERMISSION_DENIED);
    expect((await call('ListTokens', { username: OPERATOR }, tokens[VIEWER]!)).code).toBe(status.PERMISSION_DENIED);
    const own = await ok('CreateToken', { name: 'second', ttl_seconds: 3600 }, tokens[VIEWER]!);
    expect(own['info']).toMatchObject({ username: VIEWER, name: 'second', expires_at: expect.stringMatching(/^20\d\d-/) });
    const mine = (await ok('ListTokens', {}, tokens[VIEWER]!))['tokens'] as { id: string; username: string; last_used_at: string }[];
    expect(new Set(mine.map((t) => t.username))).toEqual(new Set([VIEWER]));
    expect(mine.find((t) => t.id !== (own['info'] as { id: string }).id)?.last_used_at).toMatch(/^20\d\d-/);
    // The admin token sees every user's tokens; no answer ever holds a token.
    const all = await ok('ListTokens', {}, running.adminToken);
    expect((all['tokens'] as unknown[]).length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(all)).not.toContain('lwu_');
    // Another user's token id is not found for a viewer.
    const operatorTokens = (await ok('ListTokens', { username: OPERATOR }, running.adminToken))['tokens'] as { id: string }[];
    expect((await call('RevokeToken', { id: operatorTokens[0]!.id }, tokens[VIEWER]!)).code).toBe(status.NOT_FOUND);
    await ok('RevokeToken', { id: (own['info'] as { id: string }).id }, tokens[VIEWER]!);
    // A user may change their own password.
    PASSWORDS[VIEWER] = `pw-viewer-new-${randomBytes(8).toString('hex')}`;
    await ok('SetPassword', { password: PASSWORDS[VIEWER] }, tokens[VIEWER]!);
    await ok('Login', { username: VIEWER, password: PASSWORDS[VIEWER] }, '');
  });

  it('refuses a revoked token and an expired one, saying which and when', async () => {
    const created = await ok('CreateToken', { username: OPERATOR, name: 'short', ttl_seconds: 1 }, running.adminToken);
    const short = String(created['token']);
    expect((await call('ListServers', { cluster: CLUSTER }, short)).code).toBe(status.OK);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await call('ListServers', { cluster: CLUSTER }, short);
    expect(expired.code).toBe(status.UNAUTHENTICATED);
    expect(expired.details).toMatch(new RegExp(`token '[0-9a-f]{16}' \\(short\\) of user '${OPERATOR}' expired at 20`));

    const revocable = await ok('CreateToken', { username: OPERATOR, name: 'revocable' }, running.adminToken);
    expect((await call('DrainServer', { cluster: CLUSTER, server: 'nobody' }, String(revocable['token']))).code).toBe(status.NOT_FOUND);
    await ok('RevokeToken', { id: (revocable['info'] as { id: string }).id }, running.adminToken);
    const revoked = await call('DrainServer', { cluster: CLUSTER, server: 'nobody' }, String(revocable['token']));
    expect(revoked.code).toBe(status.UNAUTHENTICATED);
    expect(revoked.details).toMatch(/\(revocable\) of user .* was revoked at 20/);
    // A made-up user token and a deleted user's token are refused too.
    expect((await call('ListServers', { cluster: CLUSTER }, `lwu_${randomBytes(32).toString('base64url')}`)).code).toBe(status.UNAUTHENTICATED);
    const doomed = `doomed-${suffix}`;
    await ok('CreateUser', { username: doomed, password: 'doomed-password', role: ROLE_ENUM.admin }, running.adminToken);
    const doomedToken = String((await ok('CreateToken', { username: doomed, name: 't' }, running.adminToken))['token']);
    await ok('DeleteUser', { username: doomed }, running.adminToken);
    expect((await call('ListServers', { cluster: CLUSTER }, doomedToken)).code).toBe(status.UNAUTHENTICATED);
  });

  it('lets the admin user sign in with the admin token as password until SetPassword', async () => {
    const login = await ok('Login', { username: 'admin', password: running.adminToken }, '');
    expect(login['token']).toMatch(/^lwu_/);
    expect(login['user']).toMatchObject({ username: 'admin', role: ROLE_ENUM.admin });
    const expires = Date.parse(String(login['expires_at']));
    expect(expires - Date.now()).toBeGreaterThan(55 * 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(60 * 60_000);
    const fresh = `admin-pw-${randomBytes(10).toString('hex')}`;
    await ok('SetPassword', { password: fresh }, String(login['token']));
    expect((await call('Login', { username: 'admin', password: running.adminToken }, '')).code).toBe(status.UNAUTHENTICATED);
    expect(await ok('Login', { username: 'admin', password: fresh }, '')).toMatchObject({ user: { username: 'admin' } });
    // The last admin cannot be demoted or deleted while it is the only one... but here there are two.
    expect((await call('SetRole', { username: ADMIN, role: ROLE_ENUM.viewer }, running.adminToken)).code).toBe(status.OK);
    const last = await call('DeleteUser', { username: 'admin' }, running.adminToken);
    expect(last.code).toBe(status.FAILED_PRECONDITION);
    expect(last.details).toContain('last admin user');
  });

  it('never stores a password or a token in the clear', async () => {
    const files = readdirSync(dataDir).filter((f) => f.startsWith('laneway.db'));
    expect(files).toContain('laneway.db');
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(dataDir, f))));
    expect(bytes.includes(Buffer.from('scrypt$16384$8$1$'))).toBe(true);
    for (const secret of [...Object.values(PASSWORDS), ...Object.values(tokens), running.adminToken]) {
      expect(bytes.includes(Buffer.from(secret)), `a secret starting ${secret.slice(0, 12)} is in the database file`).toBe(false);
    }
  });

  it('limits failed sign-ins per user, then per address, naming when to retry', async () => {
    for (let i = 0; i < 5; i++) expect((await call('Login', { username: OPERATOR, password: `wrong-${i}-password` }, '')).code).toBe(status.UNAUTHENTICATED);
    // The right password is refused too while the user is over the limit.
    const refused = await call('Login', { username: OPERATOR, password: PASSWORDS[OPERATOR] }, '');
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(new RegExp(`too many failed sign-ins for user '${OPERATOR}' \\(5 a minute\\): try again in \\d+ s \\(at 20`));
    // Another user from the same address still signs in, until the address's 20 failures are used up.
    await ok('Login', { username: ADMIN, password: PASSWORDS[ADMIN] }, '');
    // Failures so far from this address: these 5 and the admin's old password after SetPassword (1).
    let code: status = status.UNAUTHENTICATED;
    let failures = 0;
    while (code === status.UNAUTHENTICATED && failures < 30) {
      code = (await call('Login', { username: `nobody-${failures}`, password: 'not-the-password' }, '')).code;
      if (code === status.UNAUTHENTICATED) failures++;
    }
    expect(code).toBe(status.RESOURCE_EXHAUSTED);
    expect(failures).toBe(20 - 6);
    const byAddress = await call('Login', { username: ADMIN, password: PASSWORDS[ADMIN] }, '');
    expect(byAddress.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(byAddress.details).toMatch(/too many failed sign-ins for address 127\.0\.0\.1 \(20 a minute\)/);
  });
});
