/**
 * `laneway connections` and `laneway connection create|update|show|delete|test` end to end against
 * a real control plane: built from this checkout's source with esbuild (as `npm run build` does, into
 * a cache directory, since the CLI must not import the app) and run as a child process on 127.0.0.1
 * with its own data directory and queue prefix. The CLI runs in-process (`run`), its stdin a stream
 * the test fills, so secrets come the way they do from a pipe.
 */
import { build } from 'esbuild';
import Redis from 'ioredis';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './cli';
import type { SecretInput } from './read-secret';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = `cli-connections-admin-${randomBytes(8).toString('hex')}`;

/** Every secret the tests send: none may ever show in the CLI's output. */
const SECRETS = {
  pg: 'pg-secret-Zq81xv',
  mysql: 'my:sql@secret-77',
  bearer: 'bearer-secret-0p9o8i',
  basic: 'basic-secret-LkJh',
  apiKey: 'api-key-secret-3e4r',
  redis: 'redis-secret-VbNm',
  amqp: 'amqp-secret-QwEr',
  pgNew: 'pg-secret-new-5t6y',
};

/** Where the apps are built: under node_modules, so that their npm packages resolve from it. */
const BUILD_CACHE = path.join(ROOT, 'node_modules/.cache/laneway-tests');

/**
 * Builds an app (`control-plane`, `server`) from source into `outdir/<app>/` as
 * tools/build/build-app.mjs does: main.js and the extra entry points beside it. Returns main.js.
 */
async function buildApp(app: string, extraEntries: readonly string[], outdir: string): Promise<string> {
  const src = path.join(ROOT, 'apps', app, 'src');
  await build({
    entryPoints: Object.fromEntries(
      ['main.ts', ...extraEntries].map((file) => [path.basename(file, '.ts'), path.join(src, file)]),
    ),
    outdir: path.join(outdir, app),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    tsconfig: path.join(ROOT, 'apps', app, 'tsconfig.json'),
    plugins: [
      {
        name: 'external-packages',
        setup(b) {
          // npm packages resolve from node_modules at run time; workspace libs are bundled.
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('@laneway/') ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
    logLevel: 'silent',
  });
  return path.join(outdir, app, 'main.js');
}

/**
 * Runs a built app and resolves with the child and its first JSON log line whose `msg` is `ready`.
 * Rejects (the child killed) when it exits first or takes over 30 s.
 */
function startApp(
  main: string,
  env: Record<string, string>,
  ready: string,
): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${main} exited (${code}) before it logged '${ready}':\n${output.slice(-3000)}`));
    };
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      child.kill('SIGKILL');
      reject(new Error(`${main} did not log '${ready}' within 30 s:\n${output.slice(-3000)}`));
    }, 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const text = output.split('\n').find((line) => line.includes(`"msg":"${ready}"`));
      if (text === undefined) return;
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      child.stdout?.removeListener('data', onData);
      child.stderr?.removeListener('data', onData);
      // Keep draining its output, so that a full pipe never blocks it.
      child.stdout?.resume();
      child.stderr?.resume();
      resolve({ child, line: JSON.parse(text) as Record<string, unknown> });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after 10 s; resolves once it exited. */
async function stopApp(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function cleanRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A self-signed certificate (PEM), for --ca; undefined when openssl is not installed. */
function selfSignedCertificate(dir: string): string | undefined {
  const cert = path.join(dir, 'ca.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      path.join(dir, 'ca.key'),
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=laneway-test-ca',
    ],
    { stdio: 'ignore' },
  );
  return made.status === 0 ? cert : undefined;
}

/** stdin as a terminal would be: raw mode recorded, the keys typed fed in. */
class FakeTerminal extends PassThrough implements SecretInput {
  readonly isTTY = true;
  isRaw = false;
  readonly rawModes: boolean[] = [];

  constructor(typed: string) {
    super();
    this.write(typed);
  }

  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    this.rawModes.push(mode);
    return this;
  }
}

function lines(...chunks: string[]): SecretInput {
  return Readable.from(chunks.map((c) => Buffer.from(c)));
}

describe('laneway connection commands against a real control plane', () => {
  const prefix = `lwcliconn${randomBytes(4).toString('hex')}`;
  let dataDir = '';
  let work = '';
  let builds = '';
  let caFile: string | undefined;
  let controlPlane: ChildProcess | undefined;
  let address = '';
  /** Everything the CLI printed, for the check that no secret ever shows. */
  const printed: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'laneway-cli-conn-data-'));
    work = mkdtempSync(path.join(tmpdir(), 'laneway-cli-conn-'));
    caFile = selfSignedCertificate(work);
    mkdirSync(BUILD_CACHE, { recursive: true });
    builds = mkdtempSync(path.join(BUILD_CACHE, 'cli-connections-'));
    const main = await buildApp('control-plane', ['deploy/compile-worker.ts'], builds);
    const started = await startApp(
      main,
      {
        LANEWAY_GRPC_ADDR: '127.0.0.1:0',
        LANEWAY_HTTP_ADDR: '127.0.0.1:0',
        LANEWAY_DATA_DIR: dataDir,
        LANEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
        LANEWAY_QUEUE_PREFIX: prefix,
        LANEWAY_LOG_FORMAT: 'json',
        LANEWAY_COMPILE_WORKERS: '1',
        REDIS_URL,
      },
      'control plane listening',
    );
    controlPlane = started.child;
    address = `127.0.0.1:${String(started.line['port'])}`;
  }, 120_000);

  afterAll(async () => {
    await stopApp(controlPlane);
    await cleanRedisPrefix(prefix).catch(() => undefined);
    if (builds) rmSync(builds, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** Runs the CLI in-process against the control plane; stdin empty unless given. */
  async function cli(argv: string[], stdin: SecretInput = Readable.from([])) {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      env: { LANEWAY_CONTROL_PLANE: address, LANEWAY_TOKEN: ADMIN_TOKEN },
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
      stdin,
      cwd: work,
    });
    printed.push(stdout, stderr);
    return { code, stdout, stderr };
  }

  it('lists none at first, as text and --json', async () => {
    expect(await cli(['connections'])).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^no connections in cluster 'default' \(revision \d+\)\n$/) as unknown,
      stderr: '',
    });
    const json = await cli(['connections', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ connections: [] });
  });

  it('creates a postgres connection: the password from stdin, the settings from the flags, the CA from its file', async () => {
    const flags = ['--pool-size', '5', '--statement-timeout', '5s', '--tls-mode', 'require'];
    if (caFile) flags.push('--ca', caFile);
    const created = await cli(
      ['connection', 'create', 'billing', '--postgres', 'postgres://app@db.local:5432/billing', ...flags],
      lines(`${SECRETS.pg}\n`),
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(
      /^created connection billing \(postgres app@db\.local:5432\/billing\): revision \d+\nservers: none connected\n$/,
    );

    const shown = await cli(['connection', 'show', 'billing']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      new RegExp(
        [
          '^connection +billing',
          'kind +postgres',
          'host +db\\.local',
          'port +5432',
          'database +billing',
          'user +app',
          'password +set',
          'tls mode +require',
          `ca +${caFile ? 'PEM \\(--json shows it\\)' : 'none \\(the system CAs\\)'}`,
          'pool size +5',
          'statement timeout +5000ms',
          'connect timeout +default \\(10000ms\\)',
          'used by +-',
          'revision +\\d+',
          'updated +\\d{4}-\\d\\d-\\d\\dT.*Z\n$',
        ].join('\n'),
      ),
    );

    const json = await cli(['connection', 'show', 'billing', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      name: 'billing',
      spec: { postgres: { host: 'db.local', user: 'app', password: '', passwordSet: true, poolSize: 5 } },
      usedBy: [],
    });
  });

  it('refuses a password inside the URL unless --secret-from-argument, without echoing it', async () => {
    const url = `mysql://app:${encodeURIComponent(SECRETS.mysql)}@db.local/shop`;
    const refused = await cli(['connection', 'create', 'shop', '--mysql', url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      'error: the --mysql URL holds a password, which shows in `ps` and the shell history',
    );
    expect(refused.stderr).toContain('--secret-from-argument');
    expect(refused.stderr).not.toContain(encodeURIComponent(SECRETS.mysql));
    expect((await cli(['connection', 'show', 'shop'])).code).toBe(1);

    const accepted = await cli(['connection', 'create', 'shop', '--mysql', url, '--secret-from-argument']);
    expect(accepted.stderr).toBe('');
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(
      /^created connection shop \(mysql app@db\.local:3306\/shop\): revision \d+\n/,
    );
    const shown = await cli(['connection', 'show', 'shop']);
    expect(shown.stdout).toMatch(/\nport +default \(3306\)\n/);
    expect(shown.stdout).toMatch(/\npassword +set\n/);
    expect(shown.stdout).toMatch(/\ntls mode +disable\n/);
  });

  it('creates REST connections with headers, a timeout, retries and each kind of auth (its secret from stdin)', async () => {
    const bearer = await cli(
      [
        'connection',
        'create',
        'crm',
        '--rest',
        'https://crm.example.com/api/',
        '--header',
        'x-tenant: acme',
        '--header',
        'accept:application/json',
        '--timeout',
        '2.5s',
        '--retries',
        '2',
        '--bearer',
      ],
      lines(`${SECRETS.bearer}\n`),
    );
    expect(bearer.stderr).toBe('');
    expect(bearer.code).toBe(0);
    // The control plane drops the trailing slash.
    expect(bearer.stdout).toMatch(
      /^created connection crm \(rest https:\/\/crm\.example\.com\/api\): revision \d+\n/,
    );
    const shown = await cli(['connection', 'show', 'crm']);
    expect(shown.stdout).toMatch(
      /\nbase url +https:\/\/crm\.example\.com\/api\nheader +accept: application\/json\nheader +x-tenant: acme\ntimeout +2500ms\nretries +2\nauth +bearer token\ntoken +set\nca +none/,
    );

    const basic = await cli(
      ['connection', 'create', 'ledger', '--rest', 'http://ledger.local:8080', '--basic-user', 'billing'],
      lines(`${SECRETS.basic}\n`),
    );
    expect(basic.code).toBe(0);
    expect((await cli(['connection', 'show', 'ledger'])).stdout).toMatch(
      /\nauth +basic, user billing\npassword +set\n/,
    );

    const apiKey = await cli(
      ['connection', 'create', 'maps', '--rest', 'https://maps.example.com', '--api-key-header', 'X-Api-Key'],
      lines(SECRETS.apiKey),
    );
    expect(apiKey.code).toBe(0);
    expect((await cli(['connection', 'show', 'maps'])).stdout).toMatch(
      /\nauth +api key, header x-api-key\nkey +set\n/,
    );

    // A token asked for and none given (stdin empty): exit 2, nothing created.
    const missing = await cli([
      'connection',
      'create',
      'nokey',
      '--rest',
      'https://x.example.com',
      '--bearer',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("error: no bearer token given for 'nokey': type it at the prompt");
    expect((await cli(['connection', 'show', 'nokey'])).code).toBe(1);
  });

  it('creates Redis and AMQP connections (a password only with --password)', async () => {
    const redis = await cli(
      [
        'connection',
        'create',
        'cache',
        '--redis',
        'redis://cache.local:6379/2',
        '--key-prefix',
        'billing:',
        '--password',
      ],
      lines(`${SECRETS.redis}\n`),
    );
    expect(redis.stderr).toBe('');
    expect(redis.code).toBe(0);
    expect(redis.stdout).toMatch(
      /^created connection cache \(redis redis:\/\/cache\.local:6379\/2\): revision \d+\n/,
    );
    expect((await cli(['connection', 'show', 'cache'])).stdout).toMatch(
      /\nurl +redis:\/\/cache\.local:6379\/2\nkey prefix +billing:\npassword +set\n/,
    );

    const amqp = await cli(
      [
        'connection',
        'create',
        'orders',
        '--amqp',
        'amqp://app@mq.local:5672/orders',
        '--confirm',
        '--password',
      ],
      lines(`${SECRETS.amqp}\n`),
    );
    expect(amqp.code).toBe(0);
    expect((await cli(['connection', 'show', 'orders'])).stdout).toMatch(/\nconfirm +yes\npassword +set\n/);

    // No --password: none read (stdin holds one, left unread), none stored.
    const unread = Readable.from([Buffer.from('not-a-password-read\n')]);
    const open = await cli(['connection', 'create', 'events', '--amqp', 'amqp://mq.local/events'], unread);
    expect(open.code).toBe(0);
    expect(unread.readableDidRead).toBe(false);
    expect((await cli(['connection', 'show', 'events'])).stdout).toMatch(
      /\nconfirm +no\npassword +not set\n/,
    );
  });

  it('on a terminal, prompts on stderr with echo off, saying what an empty answer does', async () => {
    const terminal = new FakeTerminal(`${SECRETS.basic}\r`);
    const created = await cli(
      ['connection', 'create', 'typed', '--rest', 'https://t.example.com', '--basic-user', 'u'],
      terminal,
    );
    expect(created.code).toBe(0);
    expect(created.stderr).toBe("password for 'typed' (not shown): \n");
    expect(terminal.rawModes).toEqual([true, false]);

    const sql = await cli(
      ['connection', 'create', 'typed-sql', '--postgres', 'postgres://app@db.local/x'],
      new FakeTerminal('\r'),
    );
    expect(sql.stderr).toBe("password for 'typed-sql' (not shown; empty for none): \n");
    const updated = await cli(
      ['connection', 'update', 'typed', '--rest', 'https://t.example.com', '--basic-user', 'u'],
      new FakeTerminal('\r'),
    );
    expect(updated.code).toBe(0);
    expect(updated.stderr).toBe("password for 'typed' (not shown; empty keeps the stored one): \n");
    expect((await cli(['connection', 'show', 'typed'])).stdout).toMatch(/\npassword +set\n/);
    for (const name of ['typed', 'typed-sql'])
      expect((await cli(['connection', 'delete', name])).code).toBe(0);
  });

  it('lists every connection: name, kind, target, used by, revision; --json holds only the *_set flags', async () => {
    const listed = await cli(['connections']);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^NAME +KIND +TARGET +USED BY +REVISION$/);
    const byName = Object.fromEntries(rows.slice(1).map((row) => [row.split(/ +/)[0], row.split(/ {2,}/)]));
    expect(byName['billing']).toEqual([
      'billing',
      'postgres',
      'app@db.local:5432/billing',
      '-',
      expect.stringMatching(/^\d+$/),
    ]);
    expect(byName['shop']?.slice(0, 4)).toEqual(['shop', 'mysql', 'app@db.local:3306/shop', '-']);
    expect(byName['crm']?.slice(0, 3)).toEqual(['crm', 'rest', 'https://crm.example.com/api']);
    expect(byName['cache']?.slice(0, 3)).toEqual(['cache', 'redis', 'redis://cache.local:6379/2']);
    expect(byName['orders']?.slice(0, 3)).toEqual(['orders', 'amqp', 'amqp://app@mq.local:5672/orders']);
    expect(Object.keys(byName).sort()).toEqual([
      'billing',
      'cache',
      'crm',
      'events',
      'ledger',
      'maps',
      'orders',
      'shop',
    ]);

    const json = await cli(['connections', '--json']);
    const response = JSON.parse(json.stdout) as {
      connections: { name: string; spec: Record<string, unknown> }[];
    };
    const spec = (name: string) => response.connections.find((c) => c.name === name)?.spec;
    expect(spec('billing')).toMatchObject({ postgres: { password: '', passwordSet: true } });
    expect(spec('crm')).toMatchObject({ rest: { bearer: { token: '', tokenSet: true } } });
    expect(spec('ledger')).toMatchObject({
      rest: { basic: { username: 'billing', password: '', passwordSet: true } },
    });
    expect(spec('maps')).toMatchObject({ rest: { apiKey: { key: '', keySet: true } } });
    expect(spec('cache')).toMatchObject({ redis: { password: '', passwordSet: true } });
    expect(spec('orders')).toMatchObject({ amqp: { password: '', passwordSet: true, confirm: true } });
    expect(spec('events')).toMatchObject({ amqp: { passwordSet: false } });
  });

  it('update replaces the settings and keeps the stored secret (--keep-secret, or none given)', async () => {
    // --keep-secret: the token is not read (stdin holds a line that must not become the token).
    const unread = Readable.from([Buffer.from('must-not-be-sent\n')]);
    const kept = await cli(
      [
        'connection',
        'update',
        'crm',
        '--rest',
        'https://crm.example.com/v2',
        '--bearer',
        '--keep-secret',
        '--timeout',
        '30s',
      ],
      unread,
    );
    expect(unread.readableDidRead).toBe(false);
    expect(kept.stderr).toBe('');
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(
      /^updated connection crm \(rest https:\/\/crm\.example\.com\/v2\): revision \d+\nservers: none connected\n$/,
    );
    const crm = await cli(['connection', 'show', 'crm']);
    // Replaced: the headers and retries not given again are gone; the token stays.
    expect(crm.stdout).toMatch(
      /\nheaders +none\ntimeout +30000ms\nretries +0\nauth +bearer token\ntoken +set\n/,
    );

    // No password given on stdin: the stored one stays (a created one without any shows "not set").
    const empty = await cli([
      'connection',
      'update',
      'billing',
      '--postgres',
      'postgres://app@db2.local/billing',
      '--pool-size',
      '8',
    ]);
    expect(empty.code).toBe(0);
    const billing = await cli(['connection', 'show', 'billing']);
    expect(billing.stdout).toMatch(/\nhost +db2\.local\n/);
    expect(billing.stdout).toMatch(/\npassword +set\ntls mode +disable\n/);
    expect(billing.stdout).toMatch(/\npool size +8\nstatement timeout +none\n/);

    const none = await cli(['connection', 'create', 'trusting', '--postgres', 'postgres://app@db.local/x']);
    expect(none.code).toBe(0);
    expect((await cli(['connection', 'show', 'trusting'])).stdout).toMatch(/\npassword +not set\n/);

    // A new password, from stdin.
    const changed = await cli(
      ['connection', 'update', 'trusting', '--postgres', 'postgres://app@db.local/x'],
      lines(`${SECRETS.pgNew}\n`),
    );
    expect(changed.code).toBe(0);
    expect((await cli(['connection', 'show', 'trusting'])).stdout).toMatch(/\npassword +set\n/);

    // Updating what does not exist is NOT_FOUND.
    const missing = await cli([
      'connection',
      'update',
      'ghost',
      '--redis',
      'redis://x.local',
      '--keep-secret',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: .*ghost/);
  });

  it("a bad URL or setting is refused, naming the flag (the CLI translates the control plane's field names)", async () => {
    const scheme = await cli(['connection', 'create', 'bad', '--postgres', 'mysql://app@db.local/x']);
    expect(scheme.code).toBe(1);
    expect(scheme.stderr).toBe('error: INVALID_ARGUMENT: --postgres has scheme "mysql:"; use postgres:// or postgresql://\n');

    const rest = await cli(['connection', 'create', 'bad', '--rest', 'ftp://files.example.com']);
    expect(rest.code).toBe(1);
    expect(rest.stderr).toMatch(/^error: INVALID_ARGUMENT: --rest has scheme "ftp:"/);

    const retries = await cli([
      'connection',
      'create',
      'bad',
      '--rest',
      'https://x.example.com',
      '--retries',
      '50',
    ]);
    expect(retries.code).toBe(1);
    expect(retries.stderr).toMatch(/^error: INVALID_ARGUMENT: --retries is 50; use 0 \(the default\) to 10\n$/);

    const database = await cli(['connection', 'create', 'bad', '--postgres', 'postgres://app@db.local']);
    expect(database.code).toBe(1);
    expect(database.stderr).toMatch(/^error: INVALID_ARGUMENT: the database of --postgres "" must be 1-128 characters/);

    const unparsable = await cli(['connection', 'create', 'bad', '--redis', 'redis://ca che:6379']);
    expect(unparsable.code).toBe(2);
    expect(unparsable.stderr).toMatch(
      /^error: --redis is not a URL: give one like redis:\/\/cache\.local:6379\/0\n/,
    );

    const credentials = await cli([
      'connection',
      'create',
      'bad',
      '--rest',
      `https://u:${SECRETS.basic}@x.example.com`,
    ]);
    expect(credentials.code).toBe(2);
    expect(credentials.stderr).toContain('error: --rest holds credentials');
    expect(credentials.stderr).not.toContain(SECRETS.basic);

    expect((await cli(['connection', 'show', 'bad'])).code).toBe(1);
  });

  it('test on a cluster with no servers: says nothing was tested, exit 0; an unknown connection is NOT_FOUND', async () => {
    const tested = await cli(['connection', 'test', 'billing', '--timeout', '2s']);
    expect(tested).toEqual({
      code: 0,
      stdout: "no servers connected in cluster 'default': connection billing was not tested\n",
      stderr: '',
    });
    const json = await cli(['connection', 'test', 'billing', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ servers: [] });

    const unknown = await cli(['connection', 'test', 'ghost']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: NOT_FOUND: .*ghost/);
  });

  it('deletes a connection: gone from show and the list; deleting it again is NOT_FOUND', async () => {
    const deleted = await cli(['connection', 'delete', 'maps']);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted connection maps: revision \d+\nservers: none connected\n$/);
    expect((await cli(['connection', 'show', 'maps'])).stderr).toMatch(/^error: NOT_FOUND: /);
    expect((await cli(['connections'])).stdout).not.toMatch(/^maps /m);
    const again = await cli(['connection', 'delete', 'maps', '--no-wait']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: NOT_FOUND: /);
  });

  describe('with a real server connected to the cluster', () => {
    const serverName = `conn-srv-${randomBytes(3).toString('hex')}`;
    let server: ChildProcess | undefined;
    let api: HttpServer | undefined;
    let apiUrl = '';
    let closedPort = 0;

    beforeAll(async () => {
      api = createHttpServer((_req, res) => res.writeHead(204).end());
      await new Promise<void>((resolve) => api?.listen(0, '127.0.0.1', resolve));
      apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
      closedPort = await new Promise<number>((resolve) => {
        const probe = createNetServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      const token = await cli(['cluster', 'token', 'default']);
      expect(token.code).toBe(0);
      const main = await buildApp('server', ['cpu/cpu-worker.ts', 'load/load-check-worker.ts'], builds);
      const started = await startApp(
        main,
        {
          LANEWAY_CONTROL_PLANE: address,
          LANEWAY_JOIN_TOKEN: token.stdout.trim(),
          LANEWAY_SERVER_NAME: serverName,
          LANEWAY_QUEUE_PREFIX: prefix,
          LANEWAY_CPU_THREADS: '1',
          LANEWAY_LOG_FORMAT: 'json',
          REDIS_URL,
        },
        'server serving',
      );
      server = started.child;
    }, 120_000);

    afterAll(async () => {
      await stopApp(server);
      await new Promise((resolve) => (api ? api.close(resolve) : resolve(undefined)));
    });

    it('create and update wait for the server and print what it did; --no-wait does not', async () => {
      const created = await cli(['connection', 'create', 'local-api', '--rest', apiUrl, '--timeout', '2s']);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      expect(created.stdout).toMatch(
        new RegExp(
          `^created connection local-api \\(rest ${apiUrl}\\): revision (\\d+)\nservers:\n  ${serverName}  ACKED  applied revision \\d+\n$`,
        ),
      );
      const updated = await cli(['connection', 'update', 'local-api', '--rest', apiUrl, '--retries', '1']);
      expect(updated.code).toBe(0);
      expect(updated.stdout).toContain(`servers:\n  ${serverName}  ACKED`);
      const unwaited = await cli([
        'connection',
        'create',
        'closed-db',
        '--postgres',
        `postgres://app@127.0.0.1:${closedPort}/x`,
        '--no-wait',
      ]);
      expect(unwaited.code).toBe(0);
      expect(unwaited.stdout).toMatch(/\nservers: not waited for \(--no-wait\)\n$/);
    });

    it('test: one line per server, ok and the latency; failed and why, exit 1', async () => {
      const ok = await cli(['connection', 'test', 'local-api']);
      expect(ok).toEqual({
        code: 0,
        stdout: expect.stringMatching(new RegExp(`^${serverName}  ok  \\d+ms\n$`)) as unknown,
        stderr: '',
      });
      const json = await cli(['connection', 'test', 'local-api', '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({
        servers: [{ server: serverName, ok: true, error: '' }],
      });

      const failed = await cli(['connection', 'test', 'closed-db', '--timeout', '3s']);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(new RegExp(`^${serverName}  failed  \\S.*\n$`));
      expect(failed.stdout).toContain('closed-db');
      expect(failed.stderr).toBe(`error: connection closed-db failed on 1 of 1 server (${serverName})\n`);
    });

    it('a deployed service that declares a connection shows in USED BY, and keeps it from being deleted', async () => {
      writeFileSync(
        path.join(work, 'uses-api.ts'),
        [
          "import { defineService } from '@laneway/sdk';",
          '',
          "export default defineService({ name: 'orders.sync', lane: 'network', connections: ['local-api'],",
          '  async handle() { return { ok: true }; } });',
          '',
        ].join('\n'),
      );
      const deployed = await cli(['deploy', 'uses-api.ts']);
      expect(deployed.stderr).toBe('');
      expect(deployed.code).toBe(0);

      const listed = await cli(['connections']);
      expect(listed.stdout).toMatch(/\nlocal-api +rest +http:\/\/127\.0\.0\.1:\d+ +orders\.sync +\d+\n/);
      expect((await cli(['connection', 'show', 'local-api'])).stdout).toMatch(/\nused by +orders\.sync\n/);

      const refused = await cli(['connection', 'delete', 'local-api']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: FAILED_PRECONDITION: .*'orders\.sync'/);
      expect((await cli(['connection', 'show', 'local-api'])).code).toBe(0);

      // One no service declares: deleted, and the server applies it.
      const deleted = await cli(['connection', 'delete', 'closed-db']);
      expect(deleted.code).toBe(0);
      expect(deleted.stdout).toMatch(
        new RegExp(
          `^deleted connection closed-db: revision \\d+\nservers:\n  ${serverName}  ACKED  applied revision \\d+\n$`,
        ),
      );
    });
  });

  it('never printed a secret, in any output of the tests above', () => {
    expect(printed.length).toBeGreaterThan(40);
    const all = printed.join('\n');
    for (const secret of Object.values(SECRETS)) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(encodeURIComponent(secret));
    }
    expect(all).not.toContain('must-not-be-sent');
  });
});
