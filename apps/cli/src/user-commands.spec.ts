/**
 * `laneway user …` and `laneway token …`: the command lines they take and refuse, the tables they
 * print, and where a password comes from (a file or the prompt, never the command line).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Role, type ApiToken } from '@laneway/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './cli';
import { firstLine, readPassword } from './password-input';
import { parseCommandLine } from './program';
import { formatTokens, formatUsers, roleName, roleOfName, tokenState } from './user-format';

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
  const { line, stderr } = parse(argv);
  expect(line, `${JSON.stringify(argv)} should be rejected`).toEqual({ kind: 'exit', code: 2 });
  return stderr;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'laneway-user-cli-'));
  await writeFile(path.join(dir, 'pw'), 'correct horse\nsecond line\n');
  await writeFile(path.join(dir, 'crlf'), 'windows-password\r\n');
  await writeFile(path.join(dir, 'empty'), '');
  await writeFile(path.join(dir, 'short'), 'abc\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('laneway user', () => {
  it('reads create with a role and a password file, viewer by default', () => {
    expect(command(['user', 'create', 'ann', '--role', 'operator', '--password-file', 'ann.pw'])).toEqual({
      name: 'user create',
      args: { username: 'ann', role: 'operator', passwordFile: 'ann.pw' },
    });
    expect(command(['user', 'create', 'bob']).args).toEqual({ username: 'bob', role: 'viewer', passwordFile: undefined });
  });

  it('refuses an unknown role, a password on the command line and a missing username', () => {
    expect(rejected(['user', 'create', 'ann', '--role', 'root'])).toMatch(/viewer, operator, admin/);
    expect(rejected(['user', 'create', 'ann', '--password', 'hunter22'])).toMatch(/unknown option '--password'/);
    expect(rejected(['user', 'create'])).toMatch(/USERNAME/);
    expect(rejected(['user', 'set-role', 'ann', 'superuser'])).toMatch(/viewer, operator, admin/);
    expect(rejected(['user', 'set-password', 'ann', 'new-password'])).toMatch(/unexpected argument 'new-password'/);
  });

  it('reads list, delete, set-password (own or named) and set-role', () => {
    expect(command(['user', 'list'])).toEqual({ name: 'user list', args: {} });
    expect(command(['user', 'delete', 'ann'])).toEqual({ name: 'user delete', args: { username: 'ann' } });
    expect(command(['user', 'set-password']).args).toEqual({ username: '', passwordFile: undefined });
    expect(command(['user', 'set-password', 'ann', '--password-file', 'p']).args).toEqual({ username: 'ann', passwordFile: 'p' });
    expect(command(['user', 'set-role', 'ann', 'admin'])).toEqual({ name: 'user set-role', args: { username: 'ann', role: 'admin' } });
  });

  it('formats users with their role names', () => {
    expect(roleName(Role.ROLE_OPERATOR)).toBe('operator');
    expect(roleName(Role.ROLE_UNSPECIFIED)).toBe('unknown');
    expect(roleOfName('admin')).toBe(Role.ROLE_ADMIN);
    const text = formatUsers([
      { username: 'admin', role: Role.ROLE_ADMIN, createdAt: '2026-12-06T10:00:00.123Z', updatedAt: '2026-12-06T11:00:00.000Z' },
      { username: 'ann', role: Role.ROLE_VIEWER, createdAt: '2026-12-06T10:05:00.000Z', updatedAt: '2026-12-06T10:05:00.000Z' },
    ]);
    expect(text.split('\n')[0]).toMatch(/^USERNAME\s+ROLE\s+CREATED\s+UPDATED$/);
    expect(text).toMatch(/admin\s+admin\s+2026-12-06T10:00:00Z\s+2026-12-06T11:00:00Z/);
    expect(text).toMatch(/ann\s+viewer/);
    expect(formatUsers([])).toBe('no users');
  });
});

describe('laneway token', () => {
  it('reads create with an owner and an expiry in seconds, never by default', () => {
    expect(command(['token', 'create', 'ci', '--user', 'ann', '--expires-in', '2h'])).toEqual({ name: 'token create', args: { name: 'ci', user: 'ann', ttlSeconds: 7200 } });
    expect(command(['token', 'create', 'ci']).args).toEqual({ name: 'ci', user: '', ttlSeconds: 0 });
    expect(rejected(['token', 'create', 'ci', '--expires-in', '3600'])).toMatch(/unit/);
    expect(rejected(['token', 'create'])).toMatch(/NAME/);
  });

  it('reads list and revoke', () => {
    expect(command(['token', 'list'])).toEqual({ name: 'token list', args: { user: '' } });
    expect(command(['token', 'list', '--user', 'ann']).args).toEqual({ user: 'ann' });
    expect(command(['token', 'revoke', 'abcd1234'])).toEqual({ name: 'token revoke', args: { id: 'abcd1234' } });
  });

  it('formats tokens with their state and never a token value', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    const base: ApiToken = { id: 'a1', name: 'ci', username: 'ann', createdAt: '2026-12-06T10:00:00.000Z', expiresAt: '', revokedAt: '', lastUsedAt: '' };
    const tokens: ApiToken[] = [
      base,
      { ...base, id: 'b2', name: 'old', expiresAt: '2026-12-06T11:00:00.000Z', lastUsedAt: '2026-12-06T10:30:00.000Z' },
      { ...base, id: 'c3', name: 'gone', revokedAt: '2026-12-06T11:30:00.000Z' },
    ];
    expect(tokens.map((t) => tokenState(t, now))).toEqual(['active', 'expired', 'revoked']);
    const text = formatTokens(tokens, now);
    expect(text.split('\n')[0]).toMatch(/^ID\s+NAME\s+USER\s+STATE\s+CREATED\s+EXPIRES\s+LAST USED$/);
    expect(text).toMatch(/a1\s+ci\s+ann\s+active\s+2026-12-06T10:00:00Z\s+-\s+-/);
    expect(text).toMatch(/b2\s+old\s+ann\s+expired\s+2026-12-06T10:00:00Z\s+2026-12-06T11:00:00Z\s+2026-12-06T10:30:00Z/);
    expect(formatTokens([], now)).toBe('no tokens');
  });
});

describe('the password', () => {
  const prompts: string[] = [];
  const context = (typed: string) => ({
    cwd: dir,
    readSecret: (prompt: string) => {
      prompts.push(prompt);
      return Promise.resolve(typed);
    },
  });

  it("is the first line of --password-file, without asking", async () => {
    expect(await readPassword('pw', context('typed-password'), 'p: ')).toBe('correct horse');
    expect(await readPassword('crlf', context('typed-password'), 'p: ')).toBe('windows-password');
    expect(prompts).toEqual([]);
    expect(firstLine('no newline')).toBe('no newline');
  });

  it('is asked for without a file', async () => {
    expect(await readPassword(undefined, context('typed-password'), "password for 'ann' (not shown): ")).toBe('typed-password');
    expect(prompts).toEqual(["password for 'ann' (not shown): "]);
  });

  it('is refused empty, short, or from a file that cannot be read', async () => {
    await expect(readPassword('empty', context(''), 'p: ')).rejects.toThrow(/no password given \(--password-file 'empty' is empty\)/);
    await expect(readPassword(undefined, context(''), 'p: ')).rejects.toMatchObject({ exitCode: 2 });
    await expect(readPassword('short', context(''), 'p: ')).rejects.toThrow(/shorter than 8/);
    await expect(readPassword('missing', context(''), 'p: ')).rejects.toThrow(/cannot read --password-file 'missing'/);
  });

  it('is read before any call: user create with an empty file fails without reaching a control plane', async () => {
    let stderr = '';
    const code = await run(['--control-plane', '127.0.0.1:1', 'user', 'create', 'ann', '--password-file', 'empty'], {
      env: { LANEWAY_DATA_DIR: path.join(dir, 'no-data-dir') },
      cwd: dir,
      stdout: { write: () => true },
      stderr: { write: (chunk: string) => (stderr += chunk) },
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/no password given/);
    expect(stderr).not.toMatch(/UNAVAILABLE/);
  });
});
