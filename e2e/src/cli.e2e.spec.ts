import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanRedisPrefix,
  freePort,
  ROOT,
  runCli,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

/**
 * `node apps/cli/bin/laneway.js ARGS` from the repository root: the `laneway` npm links into .bin.
 * stdin is a pipe holding `stdin` (default: nothing), then closed.
 */
function runBin(args: string[], env: Record<string, string>, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'apps/cli/bin/laneway.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// The README's copy-paste example, run through the built CLI against real processes.
describe('the laneway CLI against a running cluster', () => {
  const prefix = uniqueName('lwcli');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-cli-e2e-'));
  let cp: ControlPlaneHandle;
  let server: AppProcess;
  let env: Record<string, string>;
  let httpPort: number;

  beforeAll(async () => {
    // As in the README: the control plane generates its admin token into its data directory, the CLI
    // finds it there, and prints the join token the server needs.
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LANEWAY_ADMIN_TOKEN: '' });
    env = { LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_DATA_DIR: dataDir };
    const token = await runCli(['cluster', 'token', 'default'], env);
    expect(token.code).toBe(0);
    const joinToken = token.stdout.trim();
    expect(joinToken).toMatch(/^lwj_/);
    httpPort = await freePort();
    server = await startServer({
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      LANEWAY_SERVER_NAME: 'replica-1',
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: joinToken,
    });
  });

  afterAll(async () => {
    await server?.stop();
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('deploys examples/hello.ts to the default cluster and invokes both of its services', async () => {
    const deployed = await runCli(['deploy', 'examples/hello.ts'], env);
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toMatch(/hello\.greet/);
    expect(deployed.stdout).toMatch(/hello\.crunch/);
    expect(deployed.stdout).toMatch(/replica-1/);

    const greeted = await runCli(['invoke', 'hello.greet', '--data', '{"name":"Ada"}'], env);
    expect(greeted.code).toBe(0);
    expect(JSON.parse(greeted.stdout)).toEqual({ greeting: 'Hello, Ada!', server: 'replica-1' });
    expect(greeted.stderr).toContain('replica-1');

    const crunched = await runCli(['invoke', 'hello.crunch', '--data', '{"n":1000}'], env);
    expect(crunched.code).toBe(0);
    expect(JSON.parse(crunched.stdout)).toEqual({ n: 1000, sum: 21066 });

    const servers = await runCli(['servers'], env);
    expect(servers.code).toBe(0);
    expect(servers.stdout).toMatch(/replica-1/);

    const status = await runCli(['status'], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/replica-1/);
  });

  it('reports a broken file with its line and column and exits 1', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-cli-bad-'));
    try {
      const file = path.join(dir, 'broken.ts');
      writeFileSync(file, "import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'x', handle() { return ( } });\n");
      const result = await runCli(['deploy', file], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/INVALID_ARGUMENT: .*broken\.ts:2:\d+: /);
      // The previous version still serves.
      const again = await runCli(['invoke', 'hello.greet', '--data', '{"name":"Bob"}'], env);
      expect(JSON.parse(again.stdout)).toMatchObject({ greeting: 'Hello, Bob!' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs through the bin shim (`npx laneway`): --help, a command against the control plane, a bad flag', async () => {
    const usage = await runBin(['--help'], env);
    expect(usage.stderr).toBe('');
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^Usage: laneway \[options\] COMMAND \[arguments\]\n/);
    expect(usage.stdout).toContain('\n  cluster token NAME ');

    const servers = await runBin(['servers', '--json'], env);
    expect(servers.stderr).toBe('');
    expect(servers.code).toBe(0);
    expect(JSON.parse(servers.stdout)).toMatchObject({ servers: [{ name: 'replica-1', connected: true }] });

    const bad = await runBin(['invoke', 'hello.greet', '--timeout', 'soon'], env);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^error: option '--timeout <MS>' argument 'soon' is invalid\. /);
    expect(bad.stderr).toContain("Run 'laneway invoke --help' for more.");
  });

  it('creates a REST channel through the bin shim, lists it, gets an answer from it and deletes it', async () => {
    // hello.greet is deployed by the first test; deploying the same file again changes nothing.
    expect((await runCli(['deploy', 'examples/hello.ts'], env)).code).toBe(0);

    const created = await runBin(
      ['channel', 'create', 'greet', '--method', 'post', '--path', '/greet/:name', '--service', 'hello.greet'],
      env,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(
      /^created channel greet \(POST \/greet\/:name -> hello\.greet\): revision (\d+)\nservers:\n {2}replica-1 {2}ACKED {2}applied revision \1\n$/,
    );

    const listed = await runBin(['channels'], env);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME +METHOD +PATH +SERVICE +SECURITY +TIMEOUT +REVISION\ngreet +POST +\/greet\/:name +hello\.greet +- +default +\d+\n$/);
    const json = await runBin(['channels', '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({
      channels: [{ name: 'greet', method: 'POST', path: '/greet/:name', service: 'hello.greet', security: '' }],
    });

    const answer = await fetch(`http://127.0.0.1:${httpPort}/greet/Ada`, { method: 'POST' });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ greeting: 'Hello, Ada!', server: 'replica-1' });

    const badPath = await runBin(['channel', 'create', 'x', '--method', 'GET', '--path', 'greet', '--service', 'hello.greet'], env);
    expect(badPath.code).toBe(2);
    expect(badPath.stderr).toMatch(/^error: option '--path <PATH>' argument 'greet' is invalid\. /);
    const undeployed = await runBin(['channel', 'create', 'x', '--method', 'GET', '--path', '/x', '--service', 'nope'], env);
    expect(undeployed.code).toBe(1);
    expect(undeployed.stderr).toMatch(/^error: INVALID_ARGUMENT: .*'nope' is not deployed/);

    const deleted = await runBin(['channel', 'delete', 'greet'], env);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted channel greet: revision \d+\nservers:\n {2}replica-1 {2}ACKED /);
    expect((await runBin(['channels'], env)).stdout).toMatch(/^no channels in cluster 'default' \(revision \d+\)\n$/);
    expect((await fetch(`http://127.0.0.1:${httpPort}/greet/Ada`, { method: 'POST' })).status).toBe(404);
  });

  it('creates an API-key security definition from stdin, guards a channel with it (401 without the key, 200 with), lists and deletes both', async () => {
    expect((await runCli(['deploy', 'examples/hello.ts'], env)).code).toBe(0);
    const key = 'e2e-partner-key-0123456789abcdef';

    // The key comes on stdin (a pipe, not a terminal: no prompt), never on the command line.
    const created = await runBin(['security', 'create-api-key', 'partner', '--header', 'X-Api-Key'], env, `${key}\n`);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(
      /^created security definition partner \(api-key, header x-api-key\): revision (\d+)\nservers:\n {2}replica-1 {2}ACKED {2}applied revision \1\n$/,
    );
    const noKey = await runBin(['security', 'create-api-key', 'other', '--header', 'x-api-key'], env);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/^error: no API key given for 'other': /);

    const channel = await runBin(
      ['channel', 'create', 'secure-greet', '--method', 'POST', '--path', '/secure/greet/:name', '--service', 'hello.greet', '--security', 'partner'],
      env,
    );
    expect(channel.stderr).toBe('');
    expect(channel.code).toBe(0);

    const url = `http://127.0.0.1:${httpPort}/secure/greet/Ada`;
    const without = await fetch(url, { method: 'POST' });
    expect(without.status).toBe(401);
    expect(await without.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect((await fetch(url, { method: 'POST', headers: { 'x-api-key': `${key}-wrong` } })).status).toBe(401);
    const withKey = await fetch(url, { method: 'POST', headers: { 'x-api-key': key } });
    expect(withKey.status).toBe(200);
    expect(await withKey.json()).toEqual({ greeting: 'Hello, Ada!', server: 'replica-1' });

    const listed = await runBin(['security'], env);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME +KIND +CHECKS +SECRET SET +REVISION\npartner +api-key +header x-api-key +yes +\d+\n$/);
    const json = await runBin(['security', '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ definitions: [{ name: 'partner', apiKey: { header: 'x-api-key', key: '', keySet: true } }] });
    for (const output of [created, listed, json]) expect(output.stdout + output.stderr).not.toContain(key);

    // In use: the control plane's FAILED_PRECONDITION names the channel, and nothing changes.
    const refused = await runBin(['security', 'delete', 'partner'], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^error: FAILED_PRECONDITION: security definition 'partner' is used by channel\(s\) 'secure-greet' in cluster 'default': change or delete them first\n$/);
    expect((await fetch(url, { method: 'POST', headers: { 'x-api-key': key } })).status).toBe(200);

    expect((await runBin(['channel', 'delete', 'secure-greet'], env)).code).toBe(0);
    const deleted = await runBin(['security', 'delete', 'partner'], env);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted security definition partner: revision \d+\nservers:\n {2}replica-1 {2}ACKED /);
    expect((await runBin(['security'], env)).stdout).toMatch(/^no security definitions in cluster 'default' \(revision \d+\)\n$/);
  });

  it('prints its version, enum names and JSON output with --json, errors as JSON, and names the flags', async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const shown = await runBin(['--version'], env);
    expect(shown).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });

    const deployed = await runCli(['deploy', 'examples/hello.ts', '--json'], env);
    expect(deployed.code).toBe(0);
    const deployJson = JSON.parse(deployed.stdout) as { services: { name: string; lane: unknown }[]; servers: unknown[] };
    expect(deployJson.services.map((s) => [s.name, s.lane]).sort()).toEqual([
      ['hello.crunch', 'CPU'],
      ['hello.greet', 'NETWORK'],
    ]);
    expect(deployJson.servers).toMatchObject([{ server: 'replica-1', outcome: 'ACKED' }]);
    const invoked = await runCli(['invoke', 'hello.greet', '--data', '{"name":"Ada"}', '--json'], env);
    expect(invoked.code).toBe(0);
    expect(JSON.parse(invoked.stdout)).toEqual({
      output: { greeting: 'Hello, Ada!', server: 'replica-1' },
      server: 'replica-1',
      version: expect.any(String),
    });
    const servers = await runCli(['servers', '--json'], env);
    const [server] = (JSON.parse(servers.stdout) as { servers: { name: string; lanes: string[] }[] }).servers;
    expect(server?.name).toBe('replica-1');
    expect([...(server?.lanes ?? [])].sort()).toEqual(['CPU', 'NETWORK']);

    const missing = await runCli(['job', 'nope', '--json'], env);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining("'nope'") } });
    const mistyped = await runCli(['channel', 'craete', 'x', '--json'], env);
    expect(mistyped.code).toBe(2);
    expect(JSON.parse(mistyped.stderr)).toEqual({ error: { code: 'USAGE', message: "unknown command 'craete' (Did you mean create?)" } });

    // The control plane refuses the request's timezone; the CLI names the flag typed.
    const zone = await runCli(['schedule', 'create', 'bad-zone', '--service', 'hello.greet', '--cron', '0 * * * *', '--tz', 'Nowhere/Else'], env);
    expect(zone.code).toBe(1);
    expect(zone.stderr).toMatch(/^error: INVALID_ARGUMENT: --tz 'Nowhere\/Else' is not an IANA time zone/);
    const bare = await runCli(['connection', 'create', 'db', '--postgres', 'postgres://app@db.local/x', '--statement-timeout', '5'], env);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^error: option '--statement-timeout <DURATION>' argument '5' is invalid\. Give a unit: 5ms, 5s, 5m or 5h\.\n/);
  });

  it('deploys a file from outside the working directory under a path without .., and the cluster still exports', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'laneway-cli-outside-'));
    const exported = mkdtempSync(path.join(os.tmpdir(), 'laneway-cli-export-'));
    try {
      writeFileSync(
        path.join(outside, 'outside.ts'),
        "import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'outside.ping', handle: () => 'pong' });\n",
      );
      const deployed = await runCli(['deploy', path.join(outside, 'outside.ts')], env);
      expect(deployed.stderr).toBe('');
      expect(deployed.code).toBe(0);
      const services = JSON.parse((await runCli(['services', '--json'], env)).stdout) as { services: { name: string; path: string }[] };
      expect(services.services.find((s) => s.name === 'outside.ping')?.path).toBe('outside.ts');

      const exportedNow = await runCli(['export', '-o', exported], env);
      expect(exportedNow.stderr).toBe('');
      expect(exportedNow.code).toBe(0);
      expect(readFileSync(path.join(exported, 'outside.ts'), 'utf8')).toContain("name: 'outside.ping'");
    } finally {
      await runCli(['undeploy', 'outside.ping'], env);
      rmSync(outside, { recursive: true, force: true });
      rmSync(exported, { recursive: true, force: true });
    }
  });
});
