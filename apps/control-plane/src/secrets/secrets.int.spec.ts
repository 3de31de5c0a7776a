import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  ClusterServiceClient,
  ConnectionServiceClient,
  ConnectionSpec,
  Lane,
  SecretServiceClient,
  SecurityServiceClient,
  SyncServiceClient,
  WaitFor,
  type Connection,
  type ConnectionChangeResponse,
  type PutSecurityDefinitionRequest,
  type RotateSecretKeyResponse,
  type SecurityChangeResponse,
  type SecurityDefinition,
  type SyncResponse,
} from '@laneway/proto';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { DEFAULT_LIMITS } from '../limits';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';
import { deleteRedisPrefix } from '../testing/redis-prefix';
import { KEYRING_FILE, secretKeyId } from './keyring';
import { isSealed, sealedKeyId } from './secret-box';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

const PG_ADMIN_URL = process.env['LANEWAY_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const run = promisify(execFile);

/** A recognisable secret: its bytes must appear nowhere but in the servers' memory. */
const recognisable = (label: string): string => `LWTEST-${label}-${randomBytes(16).toString('hex')}`;

interface Started {
  cp: RunningControlPlane;
  /** Every log line the control plane wrote (level trace). */
  logs: string[];
  clusters: ClusterServiceClient;
  connections: ConnectionServiceClient;
  security: SecurityServiceClient;
  secrets: SecretServiceClient;
  sync: SyncServiceClient;
  rpc<Res>(fn: (m: Metadata, cb: Callback<Res>) => unknown): Promise<Res>;
  close(): Promise<void>;
}

/** A data-plane server's sync stream: collects pushes, ACKs them when read. */
class ServerStream {
  private readonly pushes: SyncResponse[] = [];
  private readonly call: ReturnType<SyncServiceClient['sync']>;

  constructor(sync: SyncServiceClient, token: string, cluster: string, server: string) {
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    this.call = sync.sync(md);
    this.call.on('data', (p: SyncResponse) => this.pushes.push(p));
    this.call.on('error', () => undefined);
    this.call.write({ hello: { cluster, server, host: 'test', pid: 1, lanes: [Lane.LANE_NETWORK], appliedRevision: 0, instanceId: server, httpAddress: '' } });
  }

  async next(): Promise<SyncResponse> {
    for (let n = 0; n < 250 && this.pushes.length === 0; n++) await new Promise((r) => setTimeout(r, 20));
    const push = this.pushes.shift();
    if (!push) throw new Error('no push arrived');
    this.call.write({ ack: { nonce: push.nonce, revision: push.revision } });
    return push;
  }

  close(): void {
    this.call.cancel();
  }
}

describe('secrets at rest: sealed in the store, never in answers or logs, opened only for servers', () => {
  const prefix = `lwtest-sec-${randomBytes(6).toString('hex')}`;
  let workerPath: string;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    workerPath = await compileWorkerBundle();
  });

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  afterAll(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    await deleteRedisPrefix(prefix);
  });

  const start = async (dataDir: string, extra: { databaseUrl?: string; secretKey?: string; previousSecretKeys?: string } = {}): Promise<Started> => {
    const logs: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
    const cp = await startControlPlane(
      {
        grpcAddress: '127.0.0.1:0',
        dataDir,
        databaseUrl: extra.databaseUrl,
        redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
        queuePrefix: prefix,
        adminToken: undefined,
        logLevel: 'trace',
        limits: DEFAULT_LIMITS,
        compile: TEST_COMPILE,
        secretKey: extra.secretKey,
        previousSecretKeys: extra.previousSecretKeys,
      },
      logger,
      { compileWorkerPath: workerPath },
    );
    const target = `127.0.0.1:${cp.port}`;
    const clients = {
      clusters: new ClusterServiceClient(target, credentials.createInsecure()),
      connections: new ConnectionServiceClient(target, credentials.createInsecure()),
      security: new SecurityServiceClient(target, credentials.createInsecure()),
      secrets: new SecretServiceClient(target, credentials.createInsecure()),
      sync: new SyncServiceClient(target, credentials.createInsecure()),
    };
    const rpc = <Res,>(fn: (m: Metadata, cb: Callback<Res>) => unknown): Promise<Res> =>
      new Promise((resolve, reject) => {
        const m = new Metadata();
        m.set('authorization', `Bearer ${cp.adminToken}`);
        fn(m, (err, res) => (err ? reject(err) : resolve(res)));
      });
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      for (const c of Object.values(clients)) c.close();
      await cp.close();
    };
    cleanups.push(close);
    return { cp, logs, ...clients, rpc, close };
  };

  const jwtRequest = (cluster: string, name: string, hs256Secret: string, issuer = 'https://id.example.com'): PutSecurityDefinitionRequest => ({
    cluster,
    name,
    jwt: { hs256Secret, publicKeyPem: '', issuer, audience: 'laneway', secretSet: false },
    waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
    waitTimeoutMs: 5000,
  });

  const joinStream = async (s: Started, cluster: string, server: string): Promise<ServerStream> => {
    const { token } = await s.rpc<{ token: string }>((m, cb) => s.clusters.getJoinToken({ name: cluster }, m, cb));
    const stream = new ServerStream(s.sync, token, cluster, server);
    cleanups.push(() => stream.close());
    return stream;
  };

  /** The HS256 secret of each security definition a push carries, by name. */
  const pushedSecrets = (push: SyncResponse): Record<string, string> =>
    Object.fromEntries(push.resources.filter((r) => r.kind === 'security').map((r) => [r.name, r.security?.jwt?.hs256Secret ?? '']));

  const storedSpecs = async (s: Started): Promise<{ name: string; spec: string; version: string; revision: number | string }[]> =>
    s.cp.store.db.selectFrom('resources').select(['name', 'spec', 'version', 'revision']).where('kind', '=', 'security').orderBy('name').execute();

  /** The bytes of every file in the data directory (the database, its WAL, the keyring). */
  const dataDirBytes = (dir: string): Buffer => Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));

  it('SQLite: the file holds only the sealed form; answers and logs hold no secret; rotation re-encrypts everything; a restart opens them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'laneway-secrets-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const cluster = `sec-${process.pid}`;
    const secret = recognisable('hs256');
    const legacySecret = recognisable('legacy');

    let s = await start(dataDir);
    await s.rpc((m, cb) => s.clusters.createCluster({ name: cluster }, m, cb));
    const server = await joinStream(s, cluster, 's1');
    expect((await server.next()).full).toBe(true);

    // Created: the server gets the secret in the clear, the answer only that it is set.
    const created = s.rpc<SecurityChangeResponse>((m, cb) => s.security.createSecurityDefinition(jwtRequest(cluster, 'sso', secret), m, cb));
    const push = await server.next();
    const response = await created;
    expect(pushedSecrets(push)).toEqual({ sso: secret });
    expect(response.definition?.jwt).toMatchObject({ hs256Secret: '', secretSet: true, issuer: 'https://id.example.com' });
    const got = await s.rpc<SecurityDefinition>((m, cb) => s.security.getSecurityDefinition({ cluster, name: 'sso' }, m, cb));
    const listed = await s.rpc<unknown>((m, cb) => s.security.listSecurityDefinitions({ cluster }, m, cb));
    expect(got.jwt?.secretSet).toBe(true);
    for (const answer of [response, got, listed]) {
      expect(JSON.stringify(answer)).not.toContain(secret);
      expect(JSON.stringify(answer)).not.toContain('lwsec:');
    }

    // The row holds the sealed form, under the generated key; the file's bytes nowhere hold the secret.
    const keyId = JSON.parse(readFileSync(join(dataDir, KEYRING_FILE), 'utf8')).current as string;
    const [row] = await storedSpecs(s);
    const sealed = (JSON.parse(row!.spec) as { jwt: { hs256Secret: string } }).jwt.hs256Secret;
    expect(isSealed(sealed)).toBe(true);
    expect(sealedKeyId(sealed)).toBe(keyId);
    const bytes = dataDirBytes(dataDir);
    expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect(bytes.includes(Buffer.from(sealed))).toBe(true);

    // Empty keeps the stored sealed value (only the issuer changes); the same request again changes nothing.
    const updated = s.rpc<SecurityChangeResponse>((m, cb) => s.security.updateSecurityDefinition(jwtRequest(cluster, 'sso', '', 'https://id2.example.com'), m, cb));
    expect(pushedSecrets(await server.next())).toEqual({ sso: secret });
    const afterUpdate = await updated;
    expect(sealedKeyId((JSON.parse((await storedSpecs(s))[0]!.spec) as { jwt: { hs256Secret: string } }).jwt.hs256Secret)).toBe(keyId);
    expect((JSON.parse((await storedSpecs(s))[0]!.spec) as { jwt: { hs256Secret: string } }).jwt.hs256Secret).toBe(sealed);
    const again = await s.rpc<SecurityChangeResponse>((m, cb) =>
      s.security.updateSecurityDefinition({ ...jwtRequest(cluster, 'sso', secret, 'https://id2.example.com'), waitFor: WaitFor.WAIT_FOR_NONE }, m, cb),
    );
    expect(again.revision).toBe(afterUpdate.revision);

    // A refused secret is described by its length, not echoed.
    const short = `LWTEST-short-${randomBytes(4).toString('hex')}`;
    const refusal = await s.rpc((m, cb) => s.security.createSecurityDefinition(jwtRequest(cluster, 'short', short), m, cb)).then(
      () => undefined,
      (err: ServiceError) => err,
    );
    expect(refusal?.code).toBe(status.INVALID_ARGUMENT);
    expect(refusal?.details).not.toContain(short);

    // A row from before encryption (HS256 secret in the clear) still reaches the servers.
    await s.cp.store.putResource(cluster, 'security', 'legacy', { jwt: { hs256Secret: legacySecret, publicKeyPem: '', issuer: '', audience: '' } }, 'create');
    // Written behind the hub's back: the next change's delta carries it.
    const nextChange = s.rpc((m, cb) => s.security.updateSecurityDefinition(jwtRequest(cluster, 'sso', '', 'https://id3.example.com'), m, cb));
    expect(pushedSecrets(await server.next())).toEqual({ sso: secret, legacy: legacySecret });
    await nextChange;

    // Rotation: a new key, every value sealed with it, revisions unchanged.
    const before = await storedSpecs(s);
    const { revision: revisionBefore } = await s.rpc<{ revision: number }>((m, cb) => s.clusters.getCluster({ name: cluster }, m, cb));
    const rotated = await s.rpc<RotateSecretKeyResponse>((m, cb) => s.secrets.rotateSecretKey({}, m, cb));
    expect(rotated.keyId).not.toBe(keyId);
    expect(rotated.reEncrypted).toBe(2);
    expect(JSON.parse(readFileSync(join(dataDir, KEYRING_FILE), 'utf8')).current).toBe(rotated.keyId);
    const after = await storedSpecs(s);
    for (const r of after) expect(sealedKeyId((JSON.parse(r.spec) as { jwt: { hs256Secret: string } }).jwt.hs256Secret), r.name).toBe(rotated.keyId);
    expect(after.map((r) => [r.name, r.version, Number(r.revision)])).toEqual(before.map((r) => [r.name, r.version, Number(r.revision)]));
    expect((await s.rpc<{ revision: number }>((m, cb) => s.clusters.getCluster({ name: cluster }, m, cb))).revision).toBe(revisionBefore);
    // Nothing left in the clear or under the old key, in the database file or its WAL.
    const rotatedBytes = dataDirBytes(dataDir);
    expect(rotatedBytes.includes(Buffer.from(legacySecret))).toBe(false);
    expect(rotatedBytes.includes(Buffer.from(secret))).toBe(false);
    // A server joining now gets both in the clear.
    const late = await joinStream(s, cluster, 's2');
    expect(pushedSecrets(await late.next())).toEqual({ sso: secret, legacy: legacySecret });

    // Neither answers nor logs carry a secret or a key.
    const keys = (JSON.parse(readFileSync(join(dataDir, KEYRING_FILE), 'utf8')) as { keys: { key: string }[] }).keys.map((k) => k.key);
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(JSON.stringify(rotated)).not.toContain(key);
    const logText = s.logs.join('');
    expect(logText).toContain('secret key rotated');
    expect(logText).toContain('generated the secret key');
    for (const forbidden of [secret, legacySecret, short, ...keys]) expect(logText).not.toContain(forbidden);

    // Restart with the keyring file: the stored values open, for describe and for servers.
    await s.close();
    s = await start(dataDir);
    const restarted = await joinStream(s, cluster, 's3');
    expect(pushedSecrets(await restarted.next())).toEqual({ sso: secret, legacy: legacySecret });
    expect((await s.rpc<SecurityDefinition>((m, cb) => s.security.getSecurityDefinition({ cluster, name: 'legacy' }, m, cb))).jwt?.secretSet).toBe(true);
    expect(s.logs.join('')).toContain('secret keys loaded');
    expect(s.logs.join('')).not.toContain(secret);
  });

  it('PostgreSQL: a dump holds no secret; rotation to a new LANEWAY_SECRET_KEY (the old one as previous); a file keyring may not rotate a shared store', async () => {
    const dbName = `laneway_secrets_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    });
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${dbName}`;
    const databaseUrl = url.toString();
    const dump = async (): Promise<string> => (await run('pg_dump', ['--data-only', databaseUrl], { maxBuffer: 64 * 1024 * 1024 })).stdout;
    const dataDir = mkdtempSync(join(tmpdir(), 'laneway-secrets-pg-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const cluster = `secpg-${process.pid}`;
    const secret = recognisable('pg');
    const keyA = randomBytes(32).toString('base64');
    const keyB = randomBytes(32).toString('base64');
    const idA = secretKeyId(Buffer.from(keyA, 'base64'));
    const idB = secretKeyId(Buffer.from(keyB, 'base64'));

    let s = await start(dataDir, { databaseUrl, secretKey: keyA });
    await s.rpc((m, cb) => s.clusters.createCluster({ name: cluster }, m, cb));
    await s.rpc((m, cb) => s.security.createSecurityDefinition({ ...jwtRequest(cluster, 'sso', secret), waitFor: WaitFor.WAIT_FOR_NONE }, m, cb));
    let text = await dump();
    expect(text).toContain(`lwsec:v1:${idA}:`);
    expect(text).not.toContain(secret);
    // No key file when the key comes from the environment.
    expect(readdirSync(dataDir)).not.toContain(KEYRING_FILE);

    // The new key, with the old one as previous: still opens, then rotation moves everything to it.
    await s.close();
    s = await start(dataDir, { databaseUrl, secretKey: keyB, previousSecretKeys: keyA });
    const server = await joinStream(s, cluster, 's1');
    expect(pushedSecrets(await server.next())).toEqual({ sso: secret });
    const rotated = await s.rpc<RotateSecretKeyResponse>((m, cb) => s.secrets.rotateSecretKey({}, m, cb));
    expect(rotated).toEqual({ keyId: idB, reEncrypted: 1 });
    text = await dump();
    expect(text).toContain(`lwsec:v1:${idB}:`);
    expect(text).not.toContain(`lwsec:v1:${idA}:`);
    expect(text).not.toContain(secret);
    // Again: nothing left to re-encrypt.
    expect(await s.rpc<RotateSecretKeyResponse>((m, cb) => s.secrets.rotateSecretKey({}, m, cb))).toEqual({ keyId: idB, reEncrypted: 0 });
    const logText = s.logs.join('');
    for (const forbidden of [secret, keyA, keyB]) expect(logText).not.toContain(forbidden);

    // Without the old key the new one alone opens everything now.
    await s.close();
    s = await start(dataDir, { databaseUrl, secretKey: keyB });
    const fresh = await joinStream(s, cluster, 's2');
    expect(pushedSecrets(await fresh.next())).toEqual({ sso: secret });

    // A control plane on a shared store with its own key file: warned at start, refused to rotate.
    await s.close();
    s = await start(dataDir, { databaseUrl });
    expect(s.logs.join('')).toContain('DATABASE_URL is set but LANEWAY_SECRET_KEY is not');
    const refusal = await s.rpc((m, cb) => s.secrets.rotateSecretKey({}, m, cb)).then(
      () => undefined,
      (err: ServiceError) => err,
    );
    expect(refusal?.code).toBe(status.FAILED_PRECONDITION);
    expect(refusal?.details).toContain('set the same LANEWAY_SECRET_KEY on every control plane');
    expect(await dump()).toContain(`lwsec:v1:${idB}:`);
  });

  it('connections: every secret field sealed in the row, in the clear on the stream only; empty keeps the stored one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'laneway-secrets-conn-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const cluster = `secconn-${process.pid}`;
    const password = recognisable('pgpass');
    const token = recognisable('bearer');
    const s = await start(dataDir);
    await s.rpc((m, cb) => s.clusters.createCluster({ name: cluster }, m, cb));
    const server = await joinStream(s, cluster, 's1');
    await server.next();
    const put = (method: 'createConnection' | 'updateConnection', name: string, spec: ConnectionSpec) =>
      s.rpc<ConnectionChangeResponse>((m, cb) => s.connections[method]({ cluster, name, spec, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 5000 }, m, cb));
    const pg = (host: string, pass: string) => ConnectionSpec.fromPartial({ postgres: { host, database: 'billing', user: 'app', password: pass } });
    const pushedConnections = (push: SyncResponse) => Object.fromEntries(push.resources.filter((r) => r.kind === 'connection').map((r) => [r.name, r.connection]));

    const created = put('createConnection', 'billing', pg('db1', password));
    expect(pushedConnections(await server.next())['billing']?.postgres).toMatchObject({ host: 'db1', password });
    expect((await created).connection?.spec?.postgres).toMatchObject({ password: '', passwordSet: true });
    const crm = put('createConnection', 'crm', ConnectionSpec.fromPartial({ rest: { baseUrl: 'https://crm.example', bearer: { token } } }));
    expect(pushedConnections(await server.next())['crm']?.rest?.bearer?.token).toBe(token);
    await crm;
    // Empty password: the stored one stays (the same sealed value), the server still gets it.
    const sealedBefore = (await s.cp.store.db.selectFrom('resources').select('spec').where('name', '=', 'billing').executeTakeFirstOrThrow()).spec;
    const updated = put('updateConnection', 'billing', pg('db2', ''));
    expect(pushedConnections(await server.next())['billing']?.postgres).toMatchObject({ host: 'db2', password });
    await updated;
    const row = JSON.parse((await s.cp.store.db.selectFrom('resources').select('spec').where('name', '=', 'billing').executeTakeFirstOrThrow()).spec) as { postgres: { password: string } };
    expect(row.postgres.password).toBe((JSON.parse(sealedBefore) as { postgres: { password: string } }).postgres.password);
    expect(isSealed(row.postgres.password)).toBe(true);

    const answers = [
      await s.rpc<Connection>((m, cb) => s.connections.getConnection({ cluster, name: 'billing' }, m, cb)),
      await s.rpc<unknown>((m, cb) => s.connections.listConnections({ cluster }, m, cb)),
    ];
    const bytes = dataDirBytes(dataDir);
    const logText = s.logs.join('');
    for (const secret of [password, token]) {
      for (const answer of answers) expect(JSON.stringify(answer)).not.toContain(secret);
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(logText).not.toContain(secret);
    }
    const rotated = await s.rpc<RotateSecretKeyResponse>((m, cb) => s.secrets.rotateSecretKey({}, m, cb));
    expect(rotated.reEncrypted).toBe(2);
    const late = await joinStream(s, cluster, 's2');
    const snapshot = pushedConnections(await late.next());
    expect(snapshot['billing']?.postgres?.password).toBe(password);
    expect(snapshot['crm']?.rest?.bearer?.token).toBe(token);
  });

  it('RotateSecretKey needs the admin token', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'laneway-secrets-auth-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const s = await start(dataDir);
    const { token } = await s.rpc<{ token: string }>((m, cb) => s.clusters.getJoinToken({ name: 'default' }, m, cb));
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    const denied = await new Promise<ServiceError | undefined>((resolve) => s.secrets.rotateSecretKey({}, md, (err) => resolve(err ?? undefined)));
    expect(denied?.code).toBe(status.PERMISSION_DENIED);
    const anonymous = await new Promise<ServiceError | undefined>((resolve) => s.secrets.rotateSecretKey({}, new Metadata(), (err) => resolve(err ?? undefined)));
    expect(anonymous?.code).toBe(status.UNAUTHENTICATED);
    const keyId = JSON.parse(readFileSync(join(dataDir, KEYRING_FILE), 'utf8')).current as string;
    expect(JSON.parse(readFileSync(join(dataDir, KEYRING_FILE), 'utf8')).keys).toHaveLength(1);
    expect(keyId).toMatch(/^[0-9a-f]{16}$/);
  });
});
