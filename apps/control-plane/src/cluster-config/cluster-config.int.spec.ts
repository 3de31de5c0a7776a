import { credentials, status } from '@grpc/grpc-js';
import {
  ClusterServiceClient,
  ConfigAction,
  ConfigServiceClient,
  ConnectionServiceClient,
  DeployServiceClient,
  ScheduleOverlap,
  ScheduleServiceClient,
  SecurityServiceClient,
  ChannelServiceClient,
  WaitFor,
  type ApplyRequest,
  type ApplyResponse,
  type ConfigFile,
  type ExportResponse,
  type ListServicesResponse,
} from '@laneway/proto';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../control-plane';
import { DEFAULT_LIMITS } from '../limits';
import { DEFAULT_POLICY } from '../store';
import { compileWorkerBundle, TEST_COMPILE } from '../testing/compile-worker-bundle';
import { grpcCalls } from '../testing/grpc-calls';
import { deleteRedisPrefix } from '../testing/redis-prefix';

const SERVICE = `import { defineService } from '@laneway/sdk';
import { greeting } from './lib/greeting';
export default defineService({ name: 'crm.get-customer', connections: ['billing'], handle: (i: { id: string }) => ({ id: i.id, hello: greeting(i.id) }) });
`;
const HELPER = `export function greeting(name: string): string {\n  return 'hello ' + name;\n}\n`;
const OTHER = `import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'crm.ping', handle: () => 'pong' });\n`;
const PUBLIC_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

const PG_ADMIN_URL = process.env['LANEWAY_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin(fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

describe.each(['sqlite', 'postgres'] as const)('ConfigService on %s: a cluster as code (export, diff, apply in one revision)', (store) => {
  let database: string | undefined;
  const prefix = `lwtest-cfg-${randomBytes(6).toString('hex')}`;
  const source = `cfg-src-${process.pid}`;
  let dataDir: string;
  let running: RunningControlPlane;
  let clusters: ClusterServiceClient;
  let deploys: DeployServiceClient;
  let config: ConfigServiceClient;
  let security: SecurityServiceClient;
  let connections: ConnectionServiceClient;
  let channels: ChannelServiceClient;
  let schedules: ScheduleServiceClient;
  let exported: ExportResponse;
  let fresh = 0;

  const { rpc, failure } = grpcCalls(() => running.adminToken);
  const wait = { waitFor: WaitFor.WAIT_FOR_NONE, waitTimeoutMs: 0 };
  const exportOf = (cluster: string, secretsKey = Buffer.alloc(0)) => rpc<ExportResponse>((m, cb) => config.export({ cluster, secretsKey }, m, cb));
  const apply = (req: Partial<ApplyRequest> & { cluster: string; files: ConfigFile[] }) =>
    rpc<ApplyResponse>((m, cb) =>
      config.apply({ dryRun: false, prune: false, secretValues: {}, secretsKey: Buffer.alloc(0), waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0, ...req }, m, cb),
    );
  const newCluster = async (): Promise<string> => {
    const name = `cfg-dst-${process.pid}-${++fresh}`;
    await rpc((m, cb) => clusters.createCluster({ name }, m, cb));
    return name;
  };
  const revisionOf = async (cluster: string) => (await rpc<{ revision: number }>((m, cb) => clusters.getCluster({ name: cluster }, m, cb))).revision;
  const yamlOf = (e: ExportResponse) => e.files.find((f) => f.path === 'laneway.yaml')!.content;
  const actions = (r: ApplyResponse) => r.changes.map((c) => `${c.kind}/${c.name}:${ConfigAction[c.action]!.replace('CONFIG_ACTION_', '')}`);
  const withYaml = (files: ConfigFile[], yaml: string) => files.map((f) => (f.path === 'laneway.yaml' ? { ...f, content: yaml } : f));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'laneway-cfg-'));
    let databaseUrl: string | undefined;
    if (store === 'postgres') {
      database = `laneway_cfg_${randomBytes(6).toString('hex')}`;
      await withAdmin((c) => c.query(`CREATE DATABASE ${database}`));
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${database}`;
      databaseUrl = url.toString();
    }
    running = await startControlPlane(
      { grpcAddress: '127.0.0.1:0', dataDir, databaseUrl, redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', queuePrefix: prefix, adminToken: undefined, logLevel: 'silent', limits: DEFAULT_LIMITS, compile: TEST_COMPILE },
      pino({ level: 'silent' }),
      { compileWorkerPath: await compileWorkerBundle() },
    );
    const target = `127.0.0.1:${running.port}`;
    const insecure = credentials.createInsecure();
    clusters = new ClusterServiceClient(target, insecure);
    deploys = new DeployServiceClient(target, insecure);
    config = new ConfigServiceClient(target, insecure);
    security = new SecurityServiceClient(target, insecure);
    connections = new ConnectionServiceClient(target, insecure);
    channels = new ChannelServiceClient(target, insecure);
    schedules = new ScheduleServiceClient(target, insecure);

    // The source cluster, built through the ordinary RPCs.
    await rpc((m, cb) => clusters.createCluster({ name: source }, m, cb));
    await rpc((m, cb) =>
      connections.createConnection(
        {
          cluster: source,
          name: 'billing',
          spec: { postgres: { host: 'db.local', port: 5432, database: 'billing', user: 'app', password: 's3cret-pw', passwordSet: false, url: '', tlsMode: 'require', caPem: '', poolSize: 5, statementTimeoutMs: 0, connectTimeoutMs: 0 } },
          ...wait,
        },
        m,
        cb,
      ),
    );
    await rpc((m, cb) =>
      deploys.deploy(
        {
          cluster: source,
          files: [
            { path: 'crm/get-customer.ts', content: SERVICE },
            { path: 'crm/lib/greeting.ts', content: HELPER },
            { path: 'ops/ping.ts', content: OTHER },
          ],
          waitFor: WaitFor.WAIT_FOR_NONE,
          timeoutMs: 0,
        },
        m,
        cb,
      ),
    );
    await rpc((m, cb) => security.createSecurityDefinition({ cluster: source, name: 'partner', apiKey: { header: 'X-Api-Key', key: 'k'.repeat(32), keySet: false }, ...wait }, m, cb));
    await rpc((m, cb) => security.createSecurityDefinition({ cluster: source, name: 'ops', basicAuth: { username: 'ada', password: 'lovelace-1815', passwordSet: false }, ...wait }, m, cb));
    await rpc((m, cb) =>
      security.createSecurityDefinition({ cluster: source, name: 'sso', jwt: { hs256Secret: 'h'.repeat(40), publicKeyPem: '', issuer: 'https://id.example.com', audience: 'laneway', secretSet: false }, ...wait }, m, cb),
    );
    await rpc((m, cb) =>
      security.createSecurityDefinition({ cluster: source, name: 'partner-sso', jwt: { hs256Secret: '', publicKeyPem: PUBLIC_KEY, issuer: '', audience: '', secretSet: false }, ...wait }, m, cb),
    );
    await rpc((m, cb) =>
      channels.createChannel({ cluster: source, name: 'get-customer', method: 'GET', path: '/customers/:id', service: 'crm.get-customer', security: 'partner', timeoutMs: 5000, async: false, rateLimitPerSecond: 20, ...wait }, m, cb),
    );
    await rpc((m, cb) =>
      schedules.createSchedule(
        { cluster: source, name: 'nightly-ping', service: 'crm.ping', inputJson: '{"a": 1}', intervalMs: 0, cron: '0 3 * * *', timezone: 'Europe/Berlin', overlap: ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW, ...wait },
        m,
        cb,
      ),
    );
    exported = await exportOf(source);
  });

  afterAll(async () => {
    for (const c of [clusters, deploys, config, security, connections, channels, schedules]) c?.close();
    await running?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (database) await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    await deleteRedisPrefix(prefix);
  });

  it('exports laneway.yaml, the service files, their helper, and secrets as references', () => {
    expect(exported.files.map((f) => f.path)).toEqual(['laneway.yaml', 'crm/get-customer.ts', 'crm/lib/greeting.ts', 'ops/ping.ts']);
    expect(exported.files.find((f) => f.path === 'crm/lib/greeting.ts')!.content).toBe(HELPER);
    expect(exported.secretReferences).toEqual(['BILLING_PASSWORD', 'SSO_HS256_SECRET']);
    const yaml = yamlOf(exported);
    expect(yaml).toContain('password: ${env:BILLING_PASSWORD}');
    expect(yaml).toContain('hs256Secret: ${env:SSO_HS256_SECRET}');
    expect(yaml).toContain('overlap: ALLOW');
    // A PEM key is written as a block of lines, as it reads.
    expect(yaml).toContain(`publicKeyPem: |\n        ${PUBLIC_KEY.split('\n')[0]}`);
    expect(yaml).toContain(`cluster: ${source}`);
    // Neither a secret nor a sealed value leaves the control plane.
    for (const secret of ['s3cret-pw', 'h'.repeat(40), 'lovelace-1815', 'k'.repeat(32), 'lwsec:']) expect(yaml).not.toContain(secret);
  });

  it('applies into a fresh cluster in one revision, and exports it again byte for byte (but the cluster name)', async () => {
    const target = await newCluster();
    const before = await revisionOf(target);
    const secretValues = { BILLING_PASSWORD: 's3cret-pw', SSO_HS256_SECRET: 'h'.repeat(40) };
    const plan = await apply({ cluster: target, files: exported.files, secretValues, dryRun: true });
    expect(plan.applied).toBe(false);
    expect(actions(plan)).toEqual([
      'security/ops:ADD',
      'security/partner:ADD',
      'security/partner-sso:ADD',
      'security/sso:ADD',
      'connection/billing:ADD',
      'service/crm.get-customer:ADD',
      'service/crm.ping:ADD',
      'channel/get-customer:ADD',
      'schedule/nightly-ping:ADD',
    ]);
    expect(await revisionOf(target)).toBe(before);

    const applied = await apply({ cluster: target, files: exported.files, secretValues });
    expect(applied.applied).toBe(true);
    expect(applied.revision).toBe(before + 1);
    const again = await exportOf(target);
    expect(again.files.map((f) => f.path)).toEqual(exported.files.map((f) => f.path));
    expect(yamlOf(again)).toBe(yamlOf(exported).replace(`cluster: ${source}`, `cluster: ${target}`));
    for (const f of exported.files.slice(1)) expect(again.files.find((g) => g.path === f.path)!.content).toBe(f.content);

    // Applying the same bundle again changes nothing and keeps the revision.
    const second = await apply({ cluster: target, files: again.files, secretValues });
    expect(second.applied).toBe(false);
    expect(second.revision).toBe(applied.revision);
    expect(second.changes.every((c) => c.action === ConfigAction.CONFIG_ACTION_UNCHANGED)).toBe(true);
  });

  it('exports files an older deploy stored out of its directory (../x/a.ts) under safe names, and a round trip holds', async () => {
    const old = await newCluster();
    const service = SERVICE.replace("name: 'crm.get-customer', connections: ['billing'], ", "name: 'old.outside', ");
    // Today's Deploy refuses such paths (validateUpload), so they are stored as an older one did.
    await running.store.deployServices(old, [
      { name: 'old.outside', version: 'v-old-1', lane: 'network', path: '../x/a.ts', source: service, code: 'module.exports = {};', policy: DEFAULT_POLICY, connections: [], sources: { '../x/lib/greeting.ts': HELPER } },
      { name: 'old.absolute', version: 'v-old-2', lane: 'network', path: '/tmp/y/b.ts', source: OTHER.replace('crm.ping', 'old.absolute'), code: 'module.exports = {};', policy: DEFAULT_POLICY, connections: [] },
    ]);
    const first = await exportOf(old);
    expect(first.files.map((f) => f.path)).toEqual(['laneway.yaml', '__root__/tmp/y/b.ts', '__up__/x/a.ts', '__up__/x/lib/greeting.ts']);
    expect(first.files.find((f) => f.path === '__up__/x/lib/greeting.ts')!.content).toBe(HELPER);

    // Applied elsewhere (the helper import still resolves beside its service), exported again: the same files.
    const target = await newCluster();
    expect((await apply({ cluster: target, files: first.files })).applied).toBe(true);
    const services = await rpc<ListServicesResponse>((m, cb) => deploys.listServices({ cluster: target, pageSize: 0, pageToken: '', namePrefix: '' }, m, cb));
    expect(services.services.map((s) => [s.name, s.path])).toEqual([
      ['old.absolute', '__root__/tmp/y/b.ts'],
      ['old.outside', '__up__/x/a.ts'],
    ]);
    const second = await exportOf(target);
    expect(second.files.map((f) => f.path)).toEqual(first.files.map((f) => f.path));
    for (const f of first.files.slice(1)) expect(second.files.find((g) => g.path === f.path)!.content).toBe(f.content);
    expect(yamlOf(second)).toBe(yamlOf(first).replace(`cluster: ${old}`, `cluster: ${target}`));
  });

  it('refuses a bundle whose secret references are not set, naming every one, and changes nothing', async () => {
    const target = await newCluster();
    const before = await revisionOf(target);
    const details = await failure(apply({ cluster: target, files: exported.files, secretValues: { SSO_HS256_SECRET: 'h'.repeat(40) } }), status.INVALID_ARGUMENT);
    expect(details).toContain('BILLING_PASSWORD (connections.billing.postgres.password)');
    expect(details).not.toContain('SSO_HS256_SECRET');
    expect(await revisionOf(target)).toBe(before);
    const services = await rpc<ListServicesResponse>((m, cb) => deploys.listServices({ cluster: target, pageSize: 0, pageToken: '', namePrefix: '' }, m, cb));
    expect(services.services).toEqual([]);
  });

  it('names the file and the field of a bad value, and applies none of the bundle', async () => {
    const target = await newCluster();
    const bad = yamlOf(exported).replace('path: /customers/:id', 'path: customers/:id');
    const details = await failure(apply({ cluster: target, files: withYaml(exported.files, bad), secretValues: { BILLING_PASSWORD: 'x', SSO_HS256_SECRET: 'h'.repeat(40) } }), status.INVALID_ARGUMENT);
    expect(details).toContain("laneway.yaml: channels.get-customer: path 'customers/:id' is invalid");
    const unknown = yamlOf(exported).replace('method: GET', 'method: GET\n    verb: GET');
    expect(await failure(apply({ cluster: target, files: withYaml(exported.files, unknown), secretValues: { BILLING_PASSWORD: 'x', SSO_HS256_SECRET: 'h'.repeat(40) } }), status.INVALID_ARGUMENT)).toContain(
      'laneway.yaml: channels.get-customer.verb is not a field here',
    );
    expect(await failure(apply({ cluster: target, files: withYaml(exported.files, 'channels: [1,\n') }), status.INVALID_ARGUMENT)).toMatch(/^laneway\.yaml:\d+:\d+: /);
    expect(await failure(apply({ cluster: target, files: exported.files.slice(1) }), status.INVALID_ARGUMENT)).toContain('the bundle has no laneway.yaml');
    // A channel whose service the bundle does not deploy: refused inside the transaction, nothing stored.
    const noService = exported.files.filter((f) => f.path !== 'crm/get-customer.ts' && f.path !== 'crm/lib/greeting.ts');
    expect(await failure(apply({ cluster: target, files: noService, secretValues: { BILLING_PASSWORD: 'x', SSO_HS256_SECRET: 'h'.repeat(40) } }), status.INVALID_ARGUMENT)).toContain(
      "laneway.yaml: channels.get-customer: channel 'get-customer': service 'crm.get-customer' is not deployed",
    );
    expect(await revisionOf(target)).toBe(0);
  });

  it("takes a channel path in OpenAPI's {name} spelling as :name (exported so, unchanged on a re-apply) and refuses a *, as the RPCs do", async () => {
    const target = await newCluster();
    const secretValues = { BILLING_PASSWORD: 's3cret-pw', SSO_HS256_SECRET: 'h'.repeat(40) };
    const braced = withYaml(exported.files, yamlOf(exported).replace('path: /customers/:id', 'path: /customers/{id}'));
    expect((await apply({ cluster: target, files: braced, secretValues })).applied).toBe(true);
    expect(yamlOf(await exportOf(target))).toContain('path: /customers/:id\n');
    expect(actions(await apply({ cluster: target, files: braced, secretValues, dryRun: true }))).toContain('channel/get-customer:UNCHANGED');
    const star = withYaml(exported.files, yamlOf(exported).replace('path: /customers/:id', 'path: /customers/*'));
    const details = await failure(apply({ cluster: target, files: star, secretValues }), status.INVALID_ARGUMENT);
    expect(details).toContain("laneway.yaml: channels.get-customer: path '/customers/*' is invalid: segment '*' holds '*'");
  });

  it('keeps what the bundle does not name unless prune, and keeps a secret the bundle leaves out', async () => {
    const target = await newCluster();
    const secretValues = { BILLING_PASSWORD: 's3cret-pw', SSO_HS256_SECRET: 'h'.repeat(40) };
    await apply({ cluster: target, files: exported.files, secretValues });
    // Without the schedule, the channel, the ping service and the billing password line.
    const yaml = yamlOf(exported)
      .replace(/\nchannels:[\s\S]*$/, '\n')
      .replace(/\n\s+password: \$\{env:BILLING_PASSWORD\}/, '');
    const files = withYaml(exported.files, yaml).filter((f) => f.path !== 'ops/ping.ts');
    const kept = await apply({ cluster: target, files, secretValues, dryRun: true });
    expect(actions(kept)).toContain('service/crm.ping:KEEP');
    expect(actions(kept)).toContain('channel/get-customer:KEEP');
    expect(actions(kept)).toContain('schedule/nightly-ping:KEEP');
    expect(actions(kept)).toContain('connection/billing:UNCHANGED');

    const pruned = await apply({ cluster: target, files, secretValues, prune: true });
    expect(pruned.applied).toBe(true);
    expect(actions(pruned)).toEqual(expect.arrayContaining(['service/crm.ping:REMOVE', 'channel/get-customer:REMOVE', 'schedule/nightly-ping:REMOVE', 'connection/billing:UNCHANGED']));
    const after = await exportOf(target);
    expect(after.files.map((f) => f.path)).toEqual(['laneway.yaml', 'crm/get-customer.ts', 'crm/lib/greeting.ts']);
    // The stored password was kept, not blanked: it is still exported as a reference.
    expect(yamlOf(after)).toContain('password: ${env:BILLING_PASSWORD}');
  });

  it('refuses to prune a definition a kept channel uses, naming both', async () => {
    const target = await newCluster();
    const secretValues = { BILLING_PASSWORD: 's3cret-pw', SSO_HS256_SECRET: 'h'.repeat(40) };
    await apply({ cluster: target, files: exported.files, secretValues });
    const yaml = yamlOf(exported).replace(/\n {2}partner:\n {4}apiKey:\n {6}header: x-api-key\n {6}keySha256: [0-9a-f]+/, '');
    expect(yaml).not.toMatch(/ partner:/);
    const details = await failure(apply({ cluster: target, files: withYaml(exported.files, yaml), secretValues, prune: true }), status.FAILED_PRECONDITION);
    expect(details).toContain("removing security 'partner' (--prune)");
    expect(details).toContain("'get-customer'");
  });

  it('exports secrets encrypted under a key file and applies them with the same key only', async () => {
    const key = randomBytes(32);
    const sealed = await exportOf(source, key);
    expect(sealed.secretReferences).toEqual([]);
    const yaml = yamlOf(sealed);
    expect(yaml).toMatch(/password: \$\{enc:v1\.[A-Za-z0-9_-]+\}/);
    expect(yaml).not.toContain('s3cret-pw');
    const target = await newCluster();
    expect(await failure(apply({ cluster: target, files: sealed.files }), status.INVALID_ARGUMENT)).toContain('is encrypted: give the key file');
    expect(await failure(apply({ cluster: target, files: sealed.files, secretsKey: randomBytes(32) }), status.INVALID_ARGUMENT)).toContain('does not decrypt with the given key file');
    const applied = await apply({ cluster: target, files: sealed.files, secretsKey: key });
    expect(applied.applied).toBe(true);
    // The same secrets as the source: exported as references, the two YAML files agree.
    expect(yamlOf(await exportOf(target))).toBe(yamlOf(exported).replace(`cluster: ${source}`, `cluster: ${target}`));
  });

  it('reports a changed field and takes a plain API key and password (hashed like the RPCs do)', async () => {
    const target = await newCluster();
    const secretValues = { BILLING_PASSWORD: 's3cret-pw', SSO_HS256_SECRET: 'h'.repeat(40), PARTNER_KEY: 'p'.repeat(32), OPS_PASSWORD: 'another-pass' };
    await apply({ cluster: target, files: exported.files, secretValues });
    const yaml = yamlOf(exported)
      .replace(/keySha256: [0-9a-f]+/, 'key: ${env:PARTNER_KEY}')
      .replace(/basicAuth:\n(\s+)username: ada\n[\s\S]*?cost: \d+/, 'basicAuth:\n$1username: ada\n$1password: ${env:OPS_PASSWORD}')
      .replace('rateLimitPerSecond: 20', 'rateLimitPerSecond: 50');
    const first = await apply({ cluster: target, files: withYaml(exported.files, yaml), secretValues });
    const change = first.changes.find((c) => c.kind === 'channel')!;
    expect(change.action).toBe(ConfigAction.CONFIG_ACTION_CHANGE);
    expect(change.fields).toEqual(['rateLimitPerSecond']);
    expect(actions(first)).toEqual(expect.arrayContaining(['security/partner:CHANGE', 'security/ops:CHANGE']));
    // The same plain password again matches the stored hash: nothing changes.
    const second = await apply({ cluster: target, files: withYaml(exported.files, yaml), secretValues });
    expect(second.applied).toBe(false);
  });
});
