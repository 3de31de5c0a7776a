import { WaitFor } from '@laneway/proto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './program';

/** parseCommandLine with stdout and stderr collected. */
function parse(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const line = parseCommandLine(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { line, stdout, stderr };
}

/** The command argv selects, as it would run: its words, its arguments, the global flags. */
function command(argv: string[]) {
  const { line, stdout, stderr } = parse(argv);
  if (line.kind !== 'command') {
    throw new Error(`expected a command for ${JSON.stringify(argv)}, got exit ${line.code}: ${stderr}`);
  }
  expect(stdout + stderr).toBe('');
  return { name: line.command.name, args: line.command.args, globals: line.globals };
}

/** stderr of a command line that is rejected: exit 2, nothing on stdout. */
function rejected(argv: string[]): string {
  const { line, stdout, stderr } = parse(argv);
  expect(line, `${JSON.stringify(argv)} should be rejected`).toEqual({ kind: 'exit', code: 2 });
  expect(stdout).toBe('');
  return stderr;
}

/** stdout of a help request: exit 0, nothing on stderr. */
function help(argv: string[]): string {
  const { line, stdout, stderr } = parse(argv);
  expect(line, `${JSON.stringify(argv)} should print help`).toEqual({ kind: 'exit', code: 0 });
  expect(stderr).toBe('');
  return stdout;
}

/** Every runnable command's words, as the overview lists them. */
const ALL_COMMANDS = [
  'dev',
  'deploy',
  'invoke',
  'services',
  'versions',
  'rollback',
  'undeploy',
  'export',
  'diff',
  'apply',
  'channels',
  'channel list',
  'channel create',
  'channel update',
  'channel show',
  'channel delete',
  'security list',
  'security create-api-key',
  'security create-basic',
  'security create-jwt',
  'security update-api-key',
  'security update-basic',
  'security update-jwt',
  'security show',
  'security delete',
  'connections',
  'connection list',
  'connection create',
  'connection update',
  'connection show',
  'connection delete',
  'connection test',
  'schedules',
  'schedule list',
  'schedule create',
  'schedule update',
  'schedule show',
  'schedule pause',
  'schedule resume',
  'schedule run',
  'schedule runs',
  'schedule delete',
  'secrets rotate-key',
  'status',
  'job',
  'jobs list',
  'jobs failed',
  'jobs show',
  'jobs retry',
  'servers',
  'server list',
  'server drain',
  'server resume',
  'server remove',
  'drain',
  'resume',
  'lb haproxy',
  'audit',
  'clusters',
  'cluster list',
  'cluster create',
  'cluster show',
  'cluster delete',
  'cluster token',
  'mirror token',
  'mirror follow',
  'mirror status',
  'mirror promote',
  'user create',
  'user list',
  'user delete',
  'user set-password',
  'user set-role',
  'token create',
  'token list',
  'token revoke',
];

describe('parseCommandLine', () => {
  it('reads audit with its filters, and refuses a bare-number --since', () => {
    expect(command(['audit', '--all-clusters', '--since', '1h', '--limit', '20']).args).toEqual({ allClusters: true, sinceMs: 3_600_000, limit: 20 });
    expect(command(['audit']).args).toEqual({ allClusters: false, sinceMs: undefined, limit: 100 });
    expect(() => command(['audit', '--since', '10'])).toThrow(/unit/);
  });

  it('reads deploy with its paths and flags', () => {
    expect(command(['deploy', 'a.ts', 'dir'])).toEqual({
      name: 'deploy',
      args: { paths: ['a.ts', 'dir'], waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 0 },
      globals: { json: false },
    });
    expect(command(['deploy', '--no-wait', 'dir']).args).toEqual({
      paths: ['dir'],
      waitFor: WaitFor.WAIT_FOR_NONE,
      timeoutMs: 0,
    });
    expect(command(['deploy', 'dir', '--timeout', '2500']).args).toMatchObject({ timeoutMs: 2500 });
    expect(command(['deploy', 'dir', '--timeout=0']).args).toMatchObject({ timeoutMs: 0 });
    expect(command(['deploy', 'dir', '--timeout', ' 42 ']).args).toMatchObject({ timeoutMs: 42 });
    expect(command(['deploy', '--', '-odd-name.ts']).args).toMatchObject({ paths: ['-odd-name.ts'] });
  });

  it('takes global flags before or after the command words', () => {
    const before = command(['--cluster', 'prod', '--control-plane', 'cp:1', '--json', 'services']);
    const after = command(['services', '--json', '--control-plane=cp:1', '--cluster', 'prod']);
    expect(before).toEqual(after);
    expect(before.globals).toEqual({ cluster: 'prod', controlPlane: 'cp:1', json: true });
    expect(command(['--deadline', '1500', 'clusters']).globals).toEqual({ json: false, deadlineMs: 1500 });
    expect(command(['cluster', '--cluster', ' prod ', 'create', 'x']).globals).toEqual({
      cluster: 'prod',
      json: false,
    });
    expect(command(['jobs', 'failed', '--limit', '3', '--json']).globals).toEqual({ json: true });
  });

  it('builds a new program for every command line (no flag carries over)', () => {
    expect(command(['--json', '--cluster', 'prod', 'services']).globals).toEqual({
      cluster: 'prod',
      json: true,
    });
    expect(command(['services']).globals).toEqual({ json: false });
    expect(command(['deploy', '--no-wait', 'x']).args).toMatchObject({ waitFor: WaitFor.WAIT_FOR_NONE });
    expect(command(['rollback', 's', 'v']).args).toMatchObject({ waitFor: WaitFor.WAIT_FOR_ALL_SERVERS });
  });

  it('reads invoke, checking --data is JSON', () => {
    expect(command(['invoke', 'hello', '--data', '{"name":"ada"}'])).toEqual({
      name: 'invoke',
      args: { service: 'hello', inputJson: '{"name":"ada"}', async: false, timeoutMs: 0 },
      globals: { json: false },
    });
    expect(command(['invoke', 'hello', '--async']).args).toMatchObject({ inputJson: '', async: true });
    expect(command(['invoke', '--data=-1', 'hello']).args).toMatchObject({ inputJson: '-1' });
    expect(command(['invoke', 'hello', '--data', '-1']).args).toMatchObject({ inputJson: '-1' });
    expect(command(['invoke', 'hello', '--timeout', '1000']).args).toMatchObject({ timeoutMs: 1000 });

    const stderr = rejected(['invoke', 'hello', '--data', '{name: ada}']);
    expect(stderr).toMatch(
      /^error: option '--data <JSON>' argument '\{name: ada\}' is invalid\. It is not valid JSON \(.+\): give JSON, quoted for the shell, e\.g\. --data '\{"name":"Ada"\}'\.\n/,
    );
    expect(stderr).toMatch(
      /\n\nUsage: laneway invoke NAME \[--data <JSON>\] \[--async\] \[--timeout <MS>\]\nRun 'laneway invoke --help' for more\.\n$/,
    );
  });

  it('reads the cluster subcommands', () => {
    expect(command(['cluster', 'create', 'prod'])).toMatchObject({
      name: 'cluster create',
      args: { name: 'prod' },
    });
    expect(command(['cluster', 'delete', 'prod'])).toMatchObject({
      name: 'cluster delete',
      args: { name: 'prod' },
    });
    expect(command(['cluster', 'token', 'prod'])).toMatchObject({
      name: 'cluster token',
      args: { name: 'prod', rotate: false },
    });
    expect(command(['cluster', 'token', '--rotate', 'prod']).args).toEqual({ name: 'prod', rotate: true });
  });

  it('reads undeploy, services, servers and clusters', () => {
    expect(command(['undeploy', 'hello', '--no-wait'])).toMatchObject({
      name: 'undeploy',
      args: { name: 'hello', waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 },
    });
    expect(command(['services'])).toMatchObject({ name: 'services', args: null });
    expect(command(['servers'])).toMatchObject({ name: 'servers', args: null });
    expect(command(['clusters'])).toMatchObject({ name: 'clusters', args: null });
  });

  it('reads export, diff and apply', () => {
    expect(command(['export'])).toEqual({
      name: 'export',
      args: { output: undefined, keyFile: undefined },
      globals: { json: false },
    });
    expect(
      command(['export', '-o', './prod-config', '--with-secrets', '--key-file', 'prod.key']).args,
    ).toEqual({
      output: './prod-config',
      keyFile: 'prod.key',
    });
    expect(command(['export', '--output=out']).args).toMatchObject({ output: 'out' });
    expect(rejected(['export', '--with-secrets'])).toMatch(
      /^error: --with-secrets needs --key-file <FILE>\n/,
    );
    expect(rejected(['export', '--key-file', 'k'])).toMatch(/^error: --key-file goes with --with-secrets /);
    expect(rejected(['export', 'dir'])).toMatch(/^error: unexpected argument 'dir' for 'export'/);

    expect(command(['diff', './prod-config'])).toEqual({
      name: 'diff',
      args: { dir: './prod-config', prune: false, keyFile: undefined, all: false, exitCode: false },
      globals: { json: false },
    });
    expect(command(['diff', 'd', '--prune', '--all', '--key-file', 'k', '--exit-code']).args).toEqual({
      dir: 'd',
      prune: true,
      keyFile: 'k',
      all: true,
      exitCode: true,
    });
    expect(rejected(['apply', 'd', '--exit-code'])).toMatch(/^error: unknown option '--exit-code'/);
    expect(rejected(['diff'])).toMatch(/^error: missing required argument 'DIR'/);

    expect(command(['apply', 'd'])).toMatchObject({
      name: 'apply',
      args: {
        dir: 'd',
        prune: false,
        dryRun: false,
        all: false,
        waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
        timeoutMs: 0,
      },
    });
    expect(
      command(['apply', 'd', '--prune', '--dry-run', '--no-wait', '--timeout', '5000', '--key-file', 'k'])
        .args,
    ).toEqual({
      dir: 'd',
      prune: true,
      dryRun: true,
      keyFile: 'k',
      all: false,
      waitFor: WaitFor.WAIT_FOR_NONE,
      timeoutMs: 5000,
    });
  });

  it('reads versions, rollback, status, drain and resume', () => {
    expect(command(['versions', 'hello'])).toMatchObject({ name: 'versions', args: { service: 'hello' } });
    expect(command(['rollback', 'hello', '0123456'])).toMatchObject({
      name: 'rollback',
      args: { service: 'hello', version: '0123456', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 0 },
    });
    expect(command(['rollback', '--no-wait', 'hello', 'abcdef', '--timeout', '900']).args).toEqual({
      service: 'hello',
      version: 'abcdef',
      waitFor: WaitFor.WAIT_FOR_NONE,
      timeoutMs: 900,
    });
    expect(command(['status'])).toMatchObject({ name: 'status', args: null });
    expect(command(['drain', 'srv-a'])).toMatchObject({ name: 'drain', args: { server: 'srv-a' } });
    expect(command(['resume', 'srv-a'])).toMatchObject({ name: 'resume', args: { server: 'srv-a' } });
  });

  it('reads channels and the channel subcommands', () => {
    expect(command(['channels'])).toMatchObject({ name: 'channels', args: null });
    expect(command(['channels', '--json']).globals).toEqual({ json: true });
    expect(
      command([
        'channel',
        'create',
        'customer',
        '--method',
        'GET',
        '--path',
        '/customers/:id',
        '--service',
        'crm.get-customer',
      ]),
    ).toEqual({
      name: 'channel create',
      args: {
        name: 'customer',
        method: 'GET',
        path: '/customers/:id',
        service: 'crm.get-customer',
        security: '',
        timeoutMs: 0,
        rateLimitPerSecond: 0,
        async: false,
        waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
        waitTimeoutMs: 0,
      },
      globals: { json: false },
    });
    // Every flag; the method in any case; --timeout is the channel's, --wait-timeout the wait's.
    expect(
      command([
        'channel',
        'update',
        '--cluster',
        'prod',
        'customer',
        '--method=patch',
        '--path',
        '/v2/customers/:id',
        '--service',
        ' crm.update ',
        '--security',
        'partner-key',
        '--timeout',
        '5000',
        '--rate-limit',
        '50',
        '--async',
        '--no-wait',
        '--wait-timeout',
        '2500',
      ]),
    ).toEqual({
      name: 'channel update',
      args: {
        name: 'customer',
        method: 'PATCH',
        path: '/v2/customers/:id',
        service: 'crm.update',
        security: 'partner-key',
        timeoutMs: 5000,
        rateLimitPerSecond: 50,
        async: true,
        waitFor: WaitFor.WAIT_FOR_NONE,
        waitTimeoutMs: 2500,
      },
      globals: { cluster: 'prod', json: false },
    });
    expect(command(['channel', 'show', 'customer'])).toMatchObject({
      name: 'channel show',
      args: { name: 'customer' },
    });
    expect(command(['channel', 'delete', 'customer'])).toEqual({
      name: 'channel delete',
      args: { name: 'customer', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 0 },
      globals: { json: false },
    });
    expect(command(['channel', 'delete', 'customer', '--no-wait', '--wait-timeout', '100']).args).toEqual({
      name: 'customer',
      waitFor: WaitFor.WAIT_FOR_NONE,
      waitTimeoutMs: 100,
    });
  });

  it.each([
    [
      ['--method', 'FETCH', '--path', '/a', '--service', 's'],
      "error: option '--method <METHOD>' argument 'FETCH' is invalid. Give one of GET, POST, PUT, PATCH, DELETE, e.g. --method GET.",
    ],
    [
      ['--method', 'GET', '--path', 'customers/:id', '--service', 's'],
      "error: option '--path <PATH>' argument 'customers/:id' is invalid. A path starts with '/'; ':name' segments are parameters, e.g. --path /customers/:id.",
    ],
    [
      ['--method', 'GET', '--path', '/a', '--service', '  '],
      "error: option '--service <NAME>' argument '  ' is invalid. Give the name of a deployed service, or leave the option out.",
    ],
    [
      ['--method', 'GET', '--path', '/a', '--service', 's', '--timeout', 'soon'],
      "error: option '--timeout <MS>' argument 'soon' is invalid.",
    ],
    [
      ['--method', 'GET', '--path', '/a', '--service', 's', '--rate-limit', '-1'],
      "error: option '--rate-limit <N>' argument '-1' is invalid. Give a whole number from 0 to 4294967295, e.g. --rate-limit 100.",
    ],
    [
      ['--method', 'GET', '--path', '/a', '--service', 's', '--wait-timeout', '1.5'],
      "error: option '--wait-timeout <MS>' argument '1.5' is invalid.",
    ],
    [['--path', '/a', '--service', 's'], "error: required option '--method <METHOD>' not specified"],
    [['--method', 'GET', '--service', 's'], "error: required option '--path <PATH>' not specified"],
    [['--method', 'GET', '--path', '/a'], "error: required option '--service <NAME>' not specified"],
  ])('rejects channel create and update with %j: %s', (flags, message) => {
    for (const sub of ['create', 'update']) {
      const stderr = rejected(['channel', sub, 'customer', ...flags]);
      expect(stderr.startsWith(message), stderr).toBe(true);
      expect(stderr).toMatch(
        new RegExp(
          `\\n\\nUsage: laneway channel ${sub} NAME --method <METHOD> --path <PATH> --service <NAME> \\[--security <KEY>\\] .*\\nRun 'laneway channel ${sub} --help' for more\\.\\n$`,
        ),
      );
    }
  });

  it('reads security (the list) and its subcommands', () => {
    expect(command(['security'])).toEqual({ name: 'security list', args: null, globals: { json: false } });
    expect(command(['security', '--json'])).toEqual({
      name: 'security list',
      args: null,
      globals: { json: true },
    });
    expect(command(['--cluster', 'prod', 'security', 'list']).globals).toEqual({
      cluster: 'prod',
      json: false,
    });
    const wait = { waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 0 };

    // The secret is read at run time (prompt or stdin) unless --generate or --secret-from-argument.
    expect(command(['security', 'create-api-key', 'partner', '--header', ' x-api-key '])).toEqual({
      name: 'security create-api-key',
      args: {
        name: 'partner',
        auth: { kind: 'api-key', header: 'x-api-key' },
        secret: { from: 'input' },
        ...wait,
      },
      globals: { json: false },
    });
    expect(
      command(['security', 'create-api-key', 'partner', '--header', 'x-api-key', '--generate']).args,
    ).toMatchObject({
      secret: { from: 'generate' },
    });
    expect(
      command([
        'security',
        'update-api-key',
        'partner',
        '--header',
        'x-key',
        '--generate',
        '--no-wait',
        '--wait-timeout',
        '900',
      ]).args,
    ).toEqual({
      name: 'partner',
      auth: { kind: 'api-key', header: 'x-key' },
      secret: { from: 'generate' },
      waitFor: WaitFor.WAIT_FOR_NONE,
      waitTimeoutMs: 900,
    });
    expect(
      command(['security', 'create-basic', 'ops', '--username', 'ada', '--secret-from-argument', 'pa ss']),
    ).toEqual({
      name: 'security create-basic',
      args: {
        name: 'ops',
        auth: { kind: 'basic', username: 'ada' },
        secret: { from: 'argument', value: 'pa ss' },
        ...wait,
      },
      globals: { json: false },
    });
    expect(command(['security', 'update-basic', 'ops', '--username', 'bob']).args).toEqual({
      name: 'ops',
      auth: { kind: 'basic', username: 'bob' },
      secret: { from: 'input' },
      ...wait,
    });
    // An empty --secret-from-argument is kept as given: create refuses it at run time, update keeps the stored one.
    expect(
      command(['security', 'update-basic', 'ops', '--username', 'bob', '--secret-from-argument=']).args,
    ).toMatchObject({
      secret: { from: 'argument', value: '' },
    });

    expect(
      command([
        'security',
        'create-jwt',
        'sso',
        '--hs256',
        '--issuer',
        'https://id.example.com',
        '--audience',
        'laneway',
      ]),
    ).toEqual({
      name: 'security create-jwt',
      args: {
        name: 'sso',
        auth: { kind: 'jwt', publicKeyFile: '', issuer: 'https://id.example.com', audience: 'laneway' },
        secret: { from: 'input' },
        ...wait,
      },
      globals: { json: false },
    });
    expect(command(['security', 'update-jwt', 'sso', '--public-key', 'keys/issuer.pem']).args).toEqual({
      name: 'sso',
      auth: { kind: 'jwt', publicKeyFile: 'keys/issuer.pem', issuer: '', audience: '' },
      secret: { from: 'none' },
      ...wait,
    });
    expect(
      command(['security', 'update-jwt', 'sso', '--hs256', '--secret-from-argument', 's']).args,
    ).toMatchObject({
      secret: { from: 'argument', value: 's' },
    });

    expect(command(['security', 'show', 'partner'])).toMatchObject({
      name: 'security show',
      args: { name: 'partner' },
    });
    expect(command(['security', 'delete', 'partner'])).toEqual({
      name: 'security delete',
      args: { name: 'partner', ...wait },
      globals: { json: false },
    });
    expect(command(['security', 'delete', 'partner', '--no-wait']).args).toMatchObject({
      waitFor: WaitFor.WAIT_FOR_NONE,
    });
  });

  it.each([
    [
      ['create-jwt', 'sso'],
      'error: give --hs256 (a shared secret, read from the prompt or stdin) or --public-key FILE (RS256/ES256)\n',
    ],
    [['update-jwt', 'sso', '--issuer', 'i'], 'error: give --hs256 '],
    [
      ['create-jwt', 'sso', '--hs256', '--public-key', 'k.pem'],
      "error: option '--public-key <FILE>' cannot be used with option '--hs256'\n",
    ],
    [
      ['create-jwt', 'sso', '--public-key', 'k.pem', '--secret-from-argument', 's'],
      "error: option '--public-key <FILE>' cannot be used with option '--secret-from-argument <VALUE>'\n",
    ],
    [
      ['create-api-key', 'k', '--header', 'x', '--generate', '--secret-from-argument', 's'],
      "error: option '--generate' cannot be used with option '--secret-from-argument <VALUE>'\n",
    ],
    [['create-api-key', 'k'], "error: required option '--header <NAME>' not specified\n"],
    [
      ['create-api-key', 'k', '--header', ' '],
      "error: option '--header <NAME>' argument ' ' is invalid. Give an HTTP header name",
    ],
    [['create-basic', 'k'], "error: required option '--username <NAME>' not specified\n"],
    [['create-basic', 'k', '--username', 'ada', '--generate'], "error: unknown option '--generate'\n"],
    [['create-api-key', '--header', 'x'], "error: missing required argument 'NAME'\n"],
    [
      ['create-api-key', 'k', 'x-api-key', '--header', 'h'],
      "error: unexpected argument 'x-api-key' for 'security create-api-key' (it takes NAME)\n",
    ],
    [
      ['update-basic', 'k', '--username', 'ada', '--secret-from-argument'],
      "error: option '--secret-from-argument <VALUE>' argument missing\n",
    ],
    [['show'], "error: missing required argument 'NAME'\n"],
    [['delete', 'a', '--timeout', '5'], "error: unknown option '--timeout'\n"],
    [['list', 'x'], "error: unexpected argument 'x' for 'security list' (it takes none)\n"],
  ])('rejects security %j: %s', (words, message) => {
    const stderr = rejected(['security', ...words]);
    expect(stderr.startsWith(message), stderr).toBe(true);
    const about = `security ${words[0] ?? ''}`;
    expect(stderr).toMatch(
      new RegExp(`\\n\\nUsage: laneway ${about}( .*)?\\nRun 'laneway ${about} --help' for more\\.\\n$`),
    );
  });

  it('reports an unknown word after security as an unknown subcommand, with a suggestion and the group usage', () => {
    const usage = "\n\nUsage: laneway security COMMAND \\[arguments\\]\nRun 'laneway security --help' for its commands\\.\n$";
    expect(rejected(['security', 'lsit'])).toMatch(new RegExp(`^error: unknown command 'lsit'\n\\(Did you mean list\\?\\)${usage}`));
    expect(rejected(['security', 'shwo', 'x'])).toMatch(new RegExp(`^error: unknown command 'shwo'\n\\(Did you mean show\\?\\)${usage}`));
    expect(rejected(['security', 'create', 'x', '--header', 'h'])).toMatch(new RegExp(`^error: unknown command 'create'${usage}`));
    expect(rejected(['security', 'frobnicate'])).toMatch(new RegExp(`^error: unknown command 'frobnicate'${usage}`));
    expect(rejected(['security', '--bogus'])).toMatch(/^error: unknown option '--bogus'\n/);
    const group = help(['security', '--help']);
    expect(help(['help', 'security'])).toBe(group);
    expect(group).toMatch(/^Usage: laneway security COMMAND \[arguments\]\n/);
    expect(group).toContain('\nCommands:\n  security list ');
    expect(group).toContain('\n  security create-jwt NAME ');
    expect(help(['security', 'create-api-key', '--help'])).toContain('shows in `ps` and in the shell');
  });

  it('reads job and the jobs subcommands', () => {
    expect(command(['job', 'job-1'])).toMatchObject({ name: 'job', args: { jobId: 'job-1' } });
    expect(command(['jobs', 'failed'])).toMatchObject({
      name: 'jobs failed',
      args: { service: '', limit: 0 },
    });
    expect(command(['jobs', 'failed', '--service', ' hello ', '--limit', '20']).args).toEqual({
      service: 'hello',
      limit: 20,
    });
    expect(command(['jobs', 'retry', 'job-1'])).toMatchObject({
      name: 'jobs retry',
      args: { jobId: 'job-1' },
    });
  });

  it.each([
    // Missing or extra arguments: commander's message, or one naming the extra arguments.
    [['rollback'], "error: missing required argument 'SERVICE'", 'rollback'],
    [['versions'], "error: missing required argument 'SERVICE'", 'versions'],
    [['drain'], "error: missing required argument 'SERVER'", 'drain'],
    [['job'], "error: missing required argument 'ID'", 'job'],
    [['jobs', 'retry'], "error: missing required argument 'ID'", 'jobs retry'],
    [['cluster', 'token'], "error: missing required argument 'NAME'", 'cluster token'],
    [['deploy'], "error: missing required argument 'PATH'", 'deploy'],
    [['invoke'], "error: missing required argument 'NAME'", 'invoke'],
    [['status', 'x'], "error: unexpected argument 'x' for 'status' (it takes none)", 'status'],
    [['channel', 'show'], "error: missing required argument 'NAME'", 'channel show'],
    [
      ['channel', 'delete', 'a', 'b'],
      "error: unexpected argument 'b' for 'channel delete' (it takes NAME)",
      'channel delete',
    ],
    [['channel', 'delete', 'a', '--timeout', '5'], "error: unknown option '--timeout'", 'channel delete'],
    [['channels', 'x'], "error: unexpected argument 'x' for 'channels' (it takes none)", 'channels'],
    [['invoke', 'a', 'b'], "error: unexpected argument 'b' for 'invoke' (it takes NAME)", 'invoke'],
    [
      ['services', 'x', 'y'],
      "error: unexpected arguments 'x' 'y' for 'services' (it takes none)",
      'services',
    ],
    [
      ['cluster', 'create', 'a', 'b'],
      "error: unexpected argument 'b' for 'cluster create' (it takes NAME)",
      'cluster create',
    ],
    // Unknown flags, and flags given a value they do not take or not given the one they need.
    [['status', '--rotate'], "error: unknown option '--rotate'", 'status'],
    [['deploy', 'dir', '--bogus'], "error: unknown option '--bogus'", 'deploy'],
    [['services', '--async'], "error: unknown option '--async'", 'services'],
    [['cluster', 'token', 'x', '--rotate=yes'], "error: unknown option '--rotate=yes'", 'cluster token'],
    [['services', '--json=yes'], "error: unknown option '--json=yes'", 'services'],
    [['deploy', 'dir', '--timeout'], "error: option '--timeout <MS>' argument missing", 'deploy'],
    // Bad values, named with the flag.
    [
      ['deploy', 'dir', '--timeout', 'soon'],
      "error: option '--timeout <MS>' argument 'soon' is invalid. Give whole milliseconds from 0 to 4294967295, e.g. --timeout 5000, or a duration with a unit, e.g. --timeout 5s.",
      'deploy',
    ],
    [
      ['invoke', 'a', '--timeout', '-5'],
      "error: option '--timeout <MS>' argument '-5' is invalid.",
      'invoke',
    ],
    [
      ['invoke', 'a', '--timeout', '1.5'],
      "error: option '--timeout <MS>' argument '1.5' is invalid.",
      'invoke',
    ],
    [
      ['undeploy', 'a', '--timeout', '4294967296'],
      "error: option '--timeout <MS>' argument '4294967296' is invalid.",
      'undeploy',
    ],
    [
      ['jobs', 'failed', '--limit', '0'],
      "error: option '--limit <N>' argument '0' is invalid. Give a whole number from 1 to 4294967295, e.g. --limit 20.",
      'jobs failed',
    ],
    [
      ['jobs', 'failed', '--limit', 'all'],
      "error: option '--limit <N>' argument 'all' is invalid.",
      'jobs failed',
    ],
  ])('rejects %j: %s', (argv, message, about) => {
    const stderr = rejected(argv);
    expect(stderr.startsWith(`${message}`), stderr).toBe(true);
    // Then the usage of the command it is about, and where its help is.
    expect(stderr).toMatch(
      new RegExp(`\\n\\nUsage: laneway ${about}( .*)?\\nRun 'laneway ${about} --help' for more\\.\\n$`),
    );
  });

  it.each([
    [
      ['services', '--cluster', ''],
      "error: option '--cluster <NAME>' argument '' is invalid. Give a cluster name",
    ],
    [['services', '--cluster', '  '], "error: option '--cluster <NAME>' argument '  ' is invalid."],
    [['services', '--control-plane='], "error: option '--control-plane <ADDR>' argument '' is invalid."],
    [
      ['services', '--control-plane', 'cp1:50051,cp2'],
      "error: option '--control-plane <ADDR>' argument 'cp1:50051,cp2' is invalid. Entry \"cp2\" is not HOST:PORT (e.g. 127.0.0.1:50051).",
    ],
    [
      ['services', '--deadline', '0'],
      "error: option '--deadline <MS>' argument '0' is invalid. Give whole milliseconds from 1",
    ],
    [['services', '--cluster'], "error: option '--cluster <NAME>' argument missing"],
    [['frobnicate'], "error: unknown command 'frobnicate'\n"],
    [['deplyo', 'x'], "error: unknown command 'deplyo'\n(Did you mean deploy?)\n"],
    [['help', 'nope'], "error: unknown command 'nope'\n"],
    [['help', 'cluster', 'nope'], "error: unknown command 'cluster nope'\n"],
  ])('rejects %j (a global flag or the command word): %s', (argv, message) => {
    const stderr = rejected(argv);
    expect(stderr.startsWith(message), stderr).toBe(true);
    expect(stderr).toMatch(
      /\n\nUsage: laneway \[options\] COMMAND \[arguments\]\nRun 'laneway --help' for the commands\.\n$/,
    );
  });

  it('suggests the flag meant', () => {
    expect(rejected(['deploy', 'dir', '--timout', '5'])).toMatch(
      /^error: unknown option '--timout'\n\(Did you mean --timeout\?\)\n/,
    );
    expect(rejected(['services', '--clutser', 'x'])).toMatch(
      /^error: unknown option '--clutser'\n\(Did you mean --cluster\?\)\n/,
    );
  });

  it('reports an unknown or missing subcommand of a group with its commands', () => {
    const unknown = rejected(['cluster', 'rename', 'x']);
    expect(unknown).toMatch(/^error: unknown command 'rename'\n/);
    expect(unknown).toMatch(
      /\n\nUsage: laneway cluster COMMAND \[arguments\]\nRun 'laneway cluster --help' for its commands\.\n$/,
    );

    const missing = rejected(['cluster']);
    expect(missing).toMatch(
      /^error: 'cluster' needs a subcommand \(one of: list, create, show, delete, token\)\n\nUsage: laneway cluster COMMAND/,
    );
    expect(missing).toContain('\n  cluster token NAME ');
    expect(rejected(['jobs'])).toMatch(/^error: 'jobs' needs a subcommand \(one of: list, failed, show, retry\)\n/);
    expect(rejected(['channel'])).toMatch(
      /^error: 'channel' needs a subcommand \(one of: list, create, update, show, delete\)\n/,
    );
    // Mistyped, a subcommand gets a suggestion, as a command does.
    expect(rejected(['channel', 'craete', 'x'])).toMatch(/^error: unknown command 'craete'\n\(Did you mean create\?\)\n/);
  });

  it('gives every resource kind the same verbs: list (beside the plural command) and show', () => {
    for (const [plural, group] of [
      ['channels', 'channel'],
      ['connections', 'connection'],
      ['schedules', 'schedule'],
      ['clusters', 'cluster'],
    ] as const) {
      expect(command([group, 'list'])).toEqual({ name: `${group} list`, args: null, globals: { json: false } });
      expect(command([plural]).args).toBeNull();
      expect(rejected([group, 'list', 'x'])).toMatch(new RegExp(`^error: unexpected argument 'x' for '${group} list' \\(it takes none\\)`));
    }
    expect(command(['security', 'list']).name).toBe('security list');
    expect(command(['jobs', 'list', '--limit', '5'])).toMatchObject({ name: 'jobs list', args: { service: '', limit: 5 } });
    expect(command(['jobs', 'show', 'job-1'])).toMatchObject({ name: 'jobs show', args: { jobId: 'job-1' } });
    expect(command(['cluster', 'show', 'prod'])).toMatchObject({ name: 'cluster show', args: { name: 'prod' } });
    for (const group of ['channel', 'connection', 'schedule', 'security', 'jobs', 'cluster']) {
      expect(command([group, 'show', 'x']).name).toBe(`${group} show`);
    }
  });

  it('prints the version of the root package.json for --version and -V, wherever the global flags are', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(help(['--version'])).toBe(`${version}\n`);
    expect(help(['-V'])).toBe(`${version}\n`);
    expect(help(['--cluster', 'x', '--version'])).toBe(`${version}\n`);
    expect(help(['--help'])).toContain('\n  -V, --version ');
  });

  it('reports a missing command with the overview', () => {
    for (const argv of [[], ['--cluster', 'x']]) {
      const stderr = rejected(argv);
      expect(stderr).toMatch(/^error: missing command\n\nUsage: laneway \[options\] COMMAND \[arguments\]\n/);
      expect(stderr).toContain('\n  cluster create NAME ');
    }
  });

  it('with --json, reports a bad command line as one JSON object on stderr (code USAGE), and nothing else', () => {
    const json = (argv: string[]) => JSON.parse(rejected(argv)) as unknown;
    expect(json(['--json'])).toEqual({ error: { code: 'USAGE', message: 'missing command' } });
    expect(json(['cluster', '--json'])).toEqual({
      error: { code: 'USAGE', message: "'cluster' needs a subcommand (one of: list, create, show, delete, token)" },
    });
    expect(json(['--json', 'channel', 'craete', 'x'])).toEqual({
      error: { code: 'USAGE', message: "unknown command 'craete' (Did you mean create?)" },
    });
    expect(json(['invoke', 'x', '--timeout', 'soon', '--json'])).toEqual({
      error: {
        code: 'USAGE',
        message:
          "option '--timeout <MS>' argument 'soon' is invalid. Give whole milliseconds from 0 to 4294967295, e.g. --timeout 5000, or a duration with a unit, e.g. --timeout 5s.",
      },
    });
    expect(json(['--json', 'security', 'create-api-key', 'k'])).toEqual({
      error: { code: 'USAGE', message: "required option '--header <NAME>' not specified" },
    });
    // Help asked for is still help, on stdout.
    expect(help(['--json', 'help', 'deploy'])).toMatch(/^Usage: laneway deploy /);
  });

  it('prints the overview for --help, -h and help: every command with its arguments, the flags, the environment', () => {
    const overview = help(['--help']);
    expect(help(['-h'])).toBe(overview);
    expect(help(['help'])).toBe(overview);
    expect(help(['--json', 'help'])).toBe(overview);
    expect(overview).toMatch(/^Usage: laneway \[options\] COMMAND \[arguments\]\n/);
    for (const line of [
      'deploy PATH... ',
      'invoke NAME ',
      'rollback SERVICE [VERSION] ',
      'jobs failed ',
      'jobs retry ID ',
      'cluster create NAME ',
      'cluster token NAME ',
      'help [COMMAND...] ',
      '--control-plane <ADDR> ',
      '--cluster <NAME> ',
      '--json ',
      '--deadline <MS> ',
      '-h, --help ',
    ]) {
      expect(overview).toContain(`\n  ${line}`);
    }
    const listed = [...overview.matchAll(/^ {2}([a-z][a-z -]*?)(?: [A-Z[].*)? {2,}\S/gm)].map((m) => m[1]);
    expect(listed).toEqual([...ALL_COMMANDS, 'help']);
    expect(overview).toContain('LANEWAY_DATA_DIR');
    expect(overview).toContain('Exit status: 0 success, 1 error, 2 bad command line.');
    expect(overview).toContain('Durations: a <DURATION> flag needs a unit: 500ms, 5s, 2m or 1h');
  });

  it("prints a command's help for `help WORDS...`, WORDS --help and -h, wherever the global flags are", () => {
    const deploy = help(['help', 'deploy']);
    expect(help(['deploy', '--help'])).toBe(deploy);
    expect(help(['--cluster', 'x', 'deploy', '-h'])).toBe(deploy);
    expect(help(['deploy', 'dir', '--bogus', '--help'])).toBe(deploy);
    expect(deploy).toMatch(
      /^Usage: laneway deploy PATH\.\.\. \[--no-wait\] \[--timeout <MS>\]\n\nDeploy the services/,
    );
    expect(deploy).toContain('\nArguments:\n  PATH... ');
    expect(deploy).toMatch(/\nOptions:\n {2}--no-wait [\s\S]*\n {2}--timeout <MS> [\s\S]*\n {2}-h, --help /);
    expect(deploy).toMatch(/\nGlobal Options:\n {2}--control-plane <ADDR> /);

    const create = help(['help', 'cluster', 'create']);
    expect(help(['cluster', 'create', '--help'])).toBe(create);
    expect(create).toMatch(/^Usage: laneway cluster create NAME\n\nCreate a cluster\n/);

    const cluster = help(['help', 'cluster']);
    expect(help(['cluster', '--help'])).toBe(cluster);
    expect(cluster).toMatch(/^Usage: laneway cluster COMMAND \[arguments\]\n/);
    expect(cluster).toContain('\nCommands:\n  cluster list ');
    expect(cluster).toContain('\n  cluster create NAME ');
  });

  it.each(ALL_COMMANDS)("has help for '%s' that shows its usage", (words) => {
    const text = help(['help', ...words.split(' ')]);
    expect(help([...words.split(' '), '--help'])).toBe(text);
    expect(text).toMatch(new RegExp(`^Usage: laneway ${words}( |\\n)`));
    expect(text).toContain('\nGlobal Options:\n');
  });
});

describe('lb haproxy --watch', () => {
  it('takes --interval and --reload-cmd, and needs --out', () => {
    expect(command(['lb', 'haproxy', '--watch', '--out', 'lb.cfg', '--interval', '500ms', '--reload-cmd', 'systemctl reload haproxy']).args).toMatchObject({
      out: 'lb.cfg',
      watch: { intervalMs: 500, reloadCmd: 'systemctl reload haproxy' },
    });
    expect(command(['lb', 'haproxy', '--watch', '--out', 'lb.cfg']).args).toMatchObject({ watch: { intervalMs: 1000, reloadCmd: undefined } });
    expect(command(['lb', 'haproxy']).args).toMatchObject({ watch: undefined });
    expect(rejected(['lb', 'haproxy', '--watch', '--reload-cmd', 'true'])).toMatch(/^error: --watch needs --out FILE/);
    expect(rejected(['lb', 'haproxy', '--out', 'lb.cfg', '--reload-cmd', 'true'])).toMatch(/^error: --reload-cmd works only with --watch --out FILE: add --watch\./);
    expect(rejected(['lb', 'haproxy', '--watch', '--out', 'lb.cfg', '--interval', '5'])).toContain("option '--interval <DURATION>' argument '5' is invalid. Give a unit: 5ms, 5s, 5m or 5h.");
  });
});
