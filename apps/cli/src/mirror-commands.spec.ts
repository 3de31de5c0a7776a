/**
 * `laneway mirror token|follow|status|promote`: the command lines they take and refuse, and the file
 * errors of follow and promote. Those are reported before any call: the control plane given is a port
 * nothing listens on, so an error that came from a call would read UNAVAILABLE instead.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './cli';
import { readMirrorTokenFile } from './mirror-files';
import { parseCommandLine } from './program';

function parse(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const line = parseCommandLine(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { line, stdout, stderr };
}

function command(argv: string[]) {
  const { line, stderr } = parse(argv);
  if (line.kind !== 'command') throw new Error(`expected a command for ${JSON.stringify(argv)}: ${stderr}`);
  return { name: line.command.name, args: line.command.args };
}

function rejected(argv: string[]): string {
  const { line, stdout, stderr } = parse(argv);
  expect(line, `${JSON.stringify(argv)} should be rejected`).toEqual({ kind: 'exit', code: 2 });
  expect(stdout).toBe('');
  return stderr;
}

/** A port nothing listens on: a call made would fail UNAVAILABLE. */
const NOWHERE = '127.0.0.1:1';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'laneway-mirror-cli-'));
  await writeFile(path.join(dir, 'empty-token'), '');
  await writeFile(path.join(dir, 'blank-token'), ' \n\t\n');
  await writeFile(path.join(dir, 'token'), '  lw-mirror-abc123\n');
  await writeFile(path.join(dir, 'empty-ca.pem'), '\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(['--control-plane', NOWHERE, ...argv], {
    env: { LANEWAY_DATA_DIR: path.join(dir, 'no-data-dir') },
    cwd: dir,
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { code, stdout, stderr };
}

describe('mirror command lines', () => {
  it('reads token, status, follow and promote', () => {
    expect(command(['mirror', 'token', 'prod'])).toEqual({ name: 'mirror token', args: { cluster: 'prod' } });
    expect(command(['mirror', 'status', 'prod'])).toEqual({ name: 'mirror status', args: { cluster: 'prod' } });
    expect(command(['mirror', 'follow', 'prod', '--source', '10.0.0.1:50051', '--token-file', 't'])).toEqual({
      name: 'mirror follow',
      args: { cluster: 'prod', source: '10.0.0.1:50051', sourceCluster: undefined, tokenFile: 't', caFile: undefined, replace: false },
    });
    expect(
      command(['mirror', 'follow', 'copy', '--source', 'site-a:50051', '--source-cluster', 'prod', '--token-file', 't', '--ca', 'a.pem', '--replace'])
        .args,
    ).toEqual({ cluster: 'copy', source: 'site-a:50051', sourceCluster: 'prod', tokenFile: 't', caFile: 'a.pem', replace: true });
    expect(command(['mirror', 'promote', 'prod']).args).toEqual({ cluster: 'prod', force: false, address: undefined, caFile: undefined });
    expect(command(['mirror', 'promote', 'prod', '--force', '--address', '[::1]:50052', '--ca', 'b.pem']).args).toEqual({
      cluster: 'prod',
      force: true,
      address: '[::1]:50052',
      caFile: 'b.pem',
    });
  });

  it('refuses follow without --source or --token-file, and a --source that is not one HOST:PORT', () => {
    expect(rejected(['mirror', 'follow', 'prod', '--token-file', 't'])).toMatch(/^error: required option '--source <ADDR>' not specified\n/);
    expect(rejected(['mirror', 'follow', 'prod', '--source', 'a:1'])).toMatch(/^error: required option '--token-file <FILE>' not specified\n/);
    for (const bad of ['10.0.0.1', 'a:1,b:2', 'a:99999']) {
      expect(rejected(['mirror', 'follow', 'prod', '--source', bad, '--token-file', 't'])).toContain(
        `error: option '--source <ADDR>' argument '${bad}' is invalid. Give one control plane's gRPC address as HOST:PORT, e.g. --source 10.0.0.2:50051.`,
      );
    }
    expect(rejected(['mirror', 'follow', 'prod', '--source', 'a:1', '--token-file', ' '])).toContain("argument ' ' is invalid. Give a file");
    expect(rejected(['mirror', 'promote', 'prod', '--address', 'nowhere'])).toContain(
      "error: option '--address <HOST:PORT>' argument 'nowhere' is invalid. Give one control plane's gRPC address as HOST:PORT",
    );
  });

  it('needs CLUSTER and takes nothing more', () => {
    for (const words of [['token'], ['follow', '--source', 'a:1', '--token-file', 't'], ['status'], ['promote']]) {
      expect(rejected(['mirror', ...words])).toMatch(/^error: missing required argument 'CLUSTER'\n/);
    }
    expect(rejected(['mirror', 'status', 'a', 'b'])).toMatch(/^error: unexpected argument 'b' for 'mirror status' \(it takes CLUSTER\)/);
    expect(rejected(['mirror'])).toMatch(/^error: 'mirror' needs a subcommand \(one of: token, follow, status, promote\)/);
  });
});

describe('mirror follow and promote files', () => {
  it('reads the token trimmed', async () => {
    await expect(readMirrorTokenFile('token', dir)).resolves.toBe('lw-mirror-abc123');
  });

  it('names --token-file and the path when the file is missing or empty, before any call', async () => {
    const follow = ['mirror', 'follow', 'prod', '--source', '127.0.0.1:50052'];
    expect(await runCli([...follow, '--token-file', 'missing-token'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: cannot read --token-file 'missing-token': no such file or directory\n",
    });
    for (const file of ['empty-token', 'blank-token']) {
      expect(await runCli([...follow, '--token-file', file])).toEqual({
        code: 1,
        stdout: '',
        stderr: `error: --token-file '${file}' is empty: it holds no token (write one with 'laneway mirror token CLUSTER > ${file}' against the source)\n`,
      });
    }
    const json = await runCli(['--json', ...follow, '--token-file', 'missing-token']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'ERROR', message: "cannot read --token-file 'missing-token': no such file or directory" } });
  });

  it('names --ca and the path when the CA file is missing or empty, before any call', async () => {
    expect(await runCli(['mirror', 'follow', 'prod', '--source', '127.0.0.1:50052', '--token-file', 'token', '--ca', 'no-ca.pem'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: cannot read --ca 'no-ca.pem': no such file or directory\n",
    });
    expect((await runCli(['mirror', 'promote', 'prod', '--ca', 'empty-ca.pem'])).stderr).toBe(
      "error: --ca 'empty-ca.pem' is empty: give the PEM of the CA certificate\n",
    );
  });

  it('with good files, makes the call (here to a control plane that is not there)', async () => {
    const result = await runCli(['--deadline', '3000', 'mirror', 'follow', 'prod', '--source', '127.0.0.1:50052', '--token-file', 'token']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: UNAVAILABLE/);
    expect(result.stderr).toContain(NOWHERE);
  });
});
