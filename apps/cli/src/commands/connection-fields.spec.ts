/**
 * What `laneway connection create|update|test` make of their flags, through the real command line
 * parser (parseCommandLine, as the CLI runs it): the arguments a command runs with, or the refusal
 * (exit 2) with its message.
 */
import { WaitFor } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../program';
import { headerParser } from './connection-fields';
import { durationParser } from './option-parsers';
import { specOf } from './connection-put';

function parse(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const line = parseCommandLine(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { line, stdout, stderr };
}

function args(argv: string[]): unknown {
  const { line, stderr } = parse(argv);
  if (line.kind !== 'command') throw new Error(`expected a command for ${JSON.stringify(argv)}: ${stderr}`);
  return line.command.args;
}

/** The first line of stderr of a refused command line (exit 2). */
function refused(argv: string[]): string {
  const { line, stdout, stderr } = parse(argv);
  expect(line, `${JSON.stringify(argv)} should be refused`).toEqual({ kind: 'exit', code: 2 });
  expect(stdout).toBe('');
  return stderr.split('\n')[0] ?? '';
}

const create = (...rest: string[]) => ['connection', 'create', 'billing', ...rest];
const update = (...rest: string[]) => ['connection', 'update', 'billing', ...rest];

describe('connection create / update flags', () => {
  it('reads a SQL connection: the URL, pool, statement timeout, TLS mode, CA file; the password is read', () => {
    expect(
      args(
        create(
          '--postgres',
          'postgres://app@db.local:5432/billing?sslmode=require',
          '--pool-size',
          '5',
          '--statement-timeout',
          '1.5s',
          '--tls-mode',
          'verify-full',
          '--ca',
          'ca.pem',
          '--wait-timeout',
          '2000',
        ),
      ),
    ).toEqual({
      name: 'billing',
      spec: {
        kind: 'postgres',
        url: 'postgres://app@db.local:5432/billing?sslmode=require',
        poolSize: 5,
        statementTimeoutMs: 1500,
        tlsMode: 'verify-full',
        caFile: 'ca.pem',
      },
      secret: { from: 'input' },
      waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
      waitTimeoutMs: 2000,
    });
  });

  it('takes the password out of the URL only with --secret-from-argument (decoded), else refuses it', () => {
    expect(
      args(create('--mysql', 'mysql://app:p%40ss@db/shop', '--secret-from-argument', '--no-wait')),
    ).toMatchObject({
      spec: { kind: 'mysql', url: 'mysql://app@db/shop' },
      secret: { from: 'argument', value: 'p@ss' },
      waitFor: WaitFor.WAIT_FOR_NONE,
    });
    const message = refused(create('--mysql', 'mysql://app:p%40ss@db/shop'));
    expect(message).toMatch(/^error: the --mysql URL holds a password, .*--secret-from-argument$/);
    expect(message).not.toContain('p%40ss');
    expect(refused(create('--mysql', 'mysql://app:pw@db/shop', '--secret-from-argument', 'other'))).toBe(
      'error: the --mysql URL holds a password and --secret-from-argument gives another: give one',
    );
    expect(refused(update('--redis', 'redis://:pw@cache', '--secret-from-argument', '--keep-secret'))).toBe(
      "error: option '--keep-secret' cannot be used with option '--secret-from-argument [VALUE]'",
    );
    expect(args(create('--redis', 'redis://:pw@cache:6379/0', '--secret-from-argument'))).toMatchObject({
      spec: { kind: 'redis', url: 'redis://cache:6379/0' },
      secret: { from: 'argument', value: 'pw' },
    });
    // Alone, with no password in the URL, it says what it is for.
    expect(refused(create('--postgres', 'postgres://app@db/x', '--secret-from-argument'))).toMatch(
      /^error: --secret-from-argument alone accepts a password in the --postgres URL, which holds none/,
    );
  });

  it('reads a REST connection: repeatable headers, a duration, retries, one kind of auth', () => {
    expect(
      args(
        create(
          '--rest',
          'https://crm.example.com',
          '--header',
          'x-tenant: acme',
          '--header',
          'accept:a/b: c',
          '--timeout',
          '10s',
          '--retries',
          '0',
          '--api-key-header',
          'x-api-key',
        ),
      ),
    ).toMatchObject({
      spec: {
        kind: 'rest',
        baseUrl: 'https://crm.example.com',
        headers: { 'x-tenant': 'acme', accept: 'a/b: c' },
        timeoutMs: 10_000,
        retries: 0,
        auth: { kind: 'api-key', header: 'x-api-key' },
        caFile: '',
      },
      secret: { from: 'input' },
    });
    expect(args(create('--rest', 'http://x.local'))).toMatchObject({
      spec: { auth: { kind: 'none' }, headers: {} },
      secret: { from: 'none' },
    });
    expect(
      args(create('--rest', 'http://x.local', '--basic-user', 'ada', '--secret-from-argument', 'pw')),
    ).toMatchObject({
      spec: { auth: { kind: 'basic', username: 'ada' } },
      secret: { from: 'argument', value: 'pw' },
    });
    expect(refused(create('--rest', 'http://x.local', '--bearer', '--basic-user', 'ada'))).toBe(
      'error: give one way to authenticate, not --basic-user and --bearer',
    );
    expect(refused(create('--rest', 'http://x.local', '--secret-from-argument', 'pw'))).toMatch(
      /^error: --secret-from-argument has no secret to give: add --basic-user USER, --bearer or --api-key-header NAME$/,
    );
    expect(refused(create('--rest', 'https://ada:pw@x.local', '--basic-user', 'ada'))).toMatch(
      /^error: --rest holds credentials: /,
    );
    expect(refused(create('--rest', 'http://x.local', '--header', 'novalue'))).toContain(
      "Give a header as 'name: value'",
    );
    expect(refused(create('--rest', 'http://x.local', '--header', 'a: 1', '--header', 'A: 2'))).toContain(
      "The header 'A' is given twice",
    );
  });

  it('Redis and AMQP read a password only with --password', () => {
    expect(args(create('--redis', 'rediss://cache:6380', '--key-prefix', 'b:', '--password'))).toMatchObject({
      spec: { kind: 'redis', url: 'rediss://cache:6380', keyPrefix: 'b:' },
      secret: { from: 'input' },
    });
    expect(args(create('--amqp', 'amqp://mq/v', '--confirm'))).toMatchObject({
      spec: { kind: 'amqp', confirm: true },
      secret: { from: 'none' },
    });
    expect(refused(update('--amqp', 'amqp://mq/v', '--password', '--keep-secret'))).toBe(
      'error: --password reads a new password, and --keep-secret keeps the stored one: give one',
    );
  });

  it('update takes --keep-secret (create does not): nothing is read', () => {
    expect(args(update('--rest', 'http://x.local', '--bearer', '--keep-secret'))).toMatchObject({
      spec: { auth: { kind: 'bearer' } },
      secret: { from: 'keep' },
    });
    expect(args(update('--postgres', 'postgres://app@db/x', '--keep-secret'))).toMatchObject({
      secret: { from: 'keep' },
    });
    expect(refused(create('--postgres', 'postgres://app@db/x', '--keep-secret'))).toBe(
      "error: unknown option '--keep-secret'",
    );
  });

  it('refuses no kind, two kinds, a flag of another kind, a bad value', () => {
    expect(refused(create())).toBe(
      'error: give the kind of connection: one of --postgres URL, --mysql URL, --rest URL, --redis URL, --amqp URL',
    );
    expect(refused(create('--redis', 'redis://a', '--amqp', 'amqp://b'))).toBe(
      'error: give one kind of connection, not --redis and --amqp',
    );
    expect(refused(create('--redis', 'redis://a', '--pool-size', '3'))).toBe(
      'error: --pool-size does not apply to --redis: it goes with --postgres or --mysql',
    );
    expect(refused(create('--postgres', 'postgres://a@b/c', '--password'))).toBe(
      'error: --password does not apply to --postgres: it goes with --redis or --amqp',
    );
    expect(refused(create('--postgres', 'postgres://a@b/c', '--tls-mode', 'prefer'))).toContain(
      "argument 'prefer' is invalid. Allowed choices are disable, require, verify-full.",
    );
    expect(refused(create('--postgres', 'postgres://a@b/c', '--pool-size', '0'))).toContain(
      "option '--pool-size <N>' argument '0' is invalid",
    );
    expect(refused(create('--postgres', 'not a url'))).toBe(
      'error: --postgres is not a URL: give one like postgres://app@db.local:5432/billing?sslmode=require',
    );
  });
});

describe('connection test flags', () => {
  it('reads --timeout as a duration; 0 (the default) when not given', () => {
    expect(args(['connection', 'test', 'billing', '--timeout', '2m'])).toEqual({
      name: 'billing',
      timeoutMs: 120_000,
    });
    expect(args(['connection', 'test', 'billing'])).toEqual({ name: 'billing', timeoutMs: 0 });
    expect(refused(['connection', 'test', 'billing', '--timeout', 'soon'])).toContain(
      'Give a duration: a number with ms, s, m or h, e.g. --timeout 10s.',
    );
  });
});

describe('duration flags', () => {
  it('refuse a bare number (exit 2), naming the flag, the value and the units to use', () => {
    expect(refused(create('--postgres', 'postgres://a@b/c', '--statement-timeout', '5'))).toBe(
      "error: option '--statement-timeout <DURATION>' argument '5' is invalid. Give a unit: 5ms, 5s, 5m or 5h.",
    );
    expect(refused(create('--rest', 'https://a.example', '--timeout', '10'))).toBe(
      "error: option '--timeout <DURATION>' argument '10' is invalid. Give a unit: 10ms, 10s, 10m or 10h.",
    );
    expect(refused(['connection', 'test', 'billing', '--timeout', '1.5'])).toBe(
      "error: option '--timeout <DURATION>' argument '1.5' is invalid. Give a unit: 1.5ms, 1.5s, 1.5m or 1.5h.",
    );
    expect(refused(['schedule', 'create', 's', '--service', 'x', '--every', '30'])).toBe(
      "error: option '--every <DURATION>' argument '30' is invalid. Give a unit: 30ms, 30s, 30m or 30h.",
    );
    expect(refused(['schedule', 'create', 's', '--service', 'x', '--every', '500ms'])).toBe(
      "error: option '--every <DURATION>' argument '500ms' is invalid. Give at least 1s, e.g. --every 30s.",
    );
  });

  it('<MS> flags take milliseconds by name: a bare number, or a duration with a unit', () => {
    expect(args(['connection', 'delete', 'billing', '--wait-timeout', '2000'])).toMatchObject({ waitTimeoutMs: 2000 });
    expect(args(['connection', 'delete', 'billing', '--wait-timeout', '2s'])).toMatchObject({ waitTimeoutMs: 2000 });
    expect(refused(['connection', 'delete', 'billing', '--wait-timeout', '2 weeks'])).toBe(
      "error: option '--wait-timeout <MS>' argument '2 weeks' is invalid. Give whole milliseconds from 0 to 4294967295, e.g. --wait-timeout 5000, or a duration with a unit, e.g. --wait-timeout 5s.",
    );
  });
});

describe('durationParser and headerParser', () => {
  it('durations: ms, s, m, h, decimals; a bare number and anything else is refused', () => {
    const parse = durationParser('--timeout', '10s');
    expect(['250ms', '5s', '0.5s', '2m', '1h', ' 3s '].map(parse)).toEqual([
      250, 5000, 500, 120_000, 3_600_000, 3000,
    ]);
    for (const bad of ['', 's', '5 s', '-1s', '1d', '5sec', '1e3', '2000h', '750', '0'])
      expect(() => parse(bad)).toThrow();
  });

  it("headers: 'name: value' pairs, trimmed, the value may hold colons; a repeated name is refused", () => {
    const one = headerParser('X-Tenant:  acme ', undefined);
    expect(one).toEqual([['X-Tenant', 'acme']]);
    expect(headerParser('link: <a:b>', one)).toEqual([
      ['X-Tenant', 'acme'],
      ['link', '<a:b>'],
    ]);
    expect(headerParser('empty:', undefined)).toEqual([['empty', '']]);
    expect(() => headerParser(': v', undefined)).toThrow();
    expect(() => headerParser('two words: v', undefined)).toThrow();
    expect(() => headerParser('x-tenant: other', one)).toThrow(/given twice/);
  });
});

describe('specOf: the wire spec', () => {
  it('puts the secret in the field of its kind, and only there', () => {
    const rest = specOf(
      {
        kind: 'rest',
        baseUrl: 'https://x',
        headers: { a: '1' },
        timeoutMs: 0,
        retries: 1,
        auth: { kind: 'bearer' },
        caFile: 'ca.pem',
      },
      'tok',
      'PEM',
    );
    expect(rest).toEqual({
      rest: {
        baseUrl: 'https://x',
        headers: { a: '1' },
        timeoutMs: 0,
        retries: 1,
        caPem: 'PEM',
        bearer: { token: 'tok', tokenSet: false },
      },
    });
    expect(
      specOf(
        { kind: 'mysql', url: 'mysql://a@b/c', poolSize: 0, statementTimeoutMs: 0, tlsMode: '', caFile: '' },
        'pw',
        '',
      ),
    ).toEqual({
      mysql: expect.objectContaining({ url: 'mysql://a@b/c', password: 'pw', host: '', user: '' }) as unknown,
    });
    expect(specOf({ kind: 'amqp', url: 'amqp://mq', confirm: true, caFile: '' }, '', '')).toEqual({
      amqp: { url: 'amqp://mq', password: '', passwordSet: false, confirm: true, caPem: '' },
    });
  });
});
