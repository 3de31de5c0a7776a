import { WaitFor } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors';
import { parseCommandLine } from './parse-args';

function command(argv: string[]) {
  const line = parseCommandLine(argv);
  if (line.kind !== 'command') throw new Error(`expected a command, got help for ${argv.join(' ')}`);
  return { name: line.command.name, args: line.command.args, globals: line.globals };
}

function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`expected a usage error for: ${argv.join(' ')}`);
}

describe('parseCommandLine', () => {
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
  });

  it('takes global flags before or after the command', () => {
    const before = command(['--cluster', 'prod', '--control-plane', 'cp:1', '--json', 'services']);
    const after = command(['services', '--json', '--control-plane=cp:1', '--cluster', 'prod']);
    expect(before).toEqual(after);
    expect(before.globals).toEqual({ cluster: 'prod', controlPlane: 'cp:1', json: true });
    expect(command(['--deadline', '1500', 'clusters']).globals).toEqual({ json: false, deadlineMs: 1500 });
  });

  it('reads invoke, checking --data is JSON', () => {
    expect(command(['invoke', 'hello', '--data', '{"name":"ada"}']).args).toEqual({
      service: 'hello',
      inputJson: '{"name":"ada"}',
      async: false,
      timeoutMs: 0,
    });
    expect(command(['invoke', 'hello', '--async']).args).toMatchObject({ inputJson: '', async: true });
    expect(command(['invoke', '--data=-1', 'hello']).args).toMatchObject({ inputJson: '-1' });

    const error = usageError(['invoke', 'hello', '--data', '{name: ada}']);
    expect(error.message).toMatch(/^invalid --data '\{name: ada\}': not valid JSON/);
    expect(error.command).toBe('invoke');
    expect(error.exitCode).toBe(2);
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
    expect(usageError(['cluster']).message).toBe(
      'cluster: missing subcommand (one of: create, delete, token)',
    );
    expect(usageError(['cluster', 'rename', 'x']).message).toBe(
      "cluster: unknown subcommand 'rename' (one of: create, delete, token)",
    );
    expect(usageError(['cluster', 'create']).message).toBe('cluster create: missing NAME');
  });

  it('reads undeploy, services, servers and clusters', () => {
    expect(command(['undeploy', 'hello', '--no-wait']).args).toEqual({
      name: 'hello',
      waitFor: WaitFor.WAIT_FOR_NONE,
      timeoutMs: 0,
    });
    expect(command(['services']).name).toBe('services');
    expect(command(['servers']).name).toBe('servers');
    expect(command(['clusters']).name).toBe('clusters');
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
    expect(command(['status']).name).toBe('status');
    expect(command(['drain', 'srv-a'])).toMatchObject({ name: 'drain', args: { server: 'srv-a' } });
    expect(command(['resume', 'srv-a'])).toMatchObject({ name: 'resume', args: { server: 'srv-a' } });
  });

  it('reads job and the jobs subcommands', () => {
    expect(command(['job', 'job-1'])).toMatchObject({ name: 'job', args: { jobId: 'job-1' } });
    expect(command(['jobs', 'failed'])).toMatchObject({
      name: 'jobs failed',
      args: { service: '', limit: 0 },
    });
    expect(command(['jobs', 'failed', '--service', 'hello', '--limit', '20']).args).toEqual({
      service: 'hello',
      limit: 20,
    });
    expect(command(['jobs', 'retry', 'job-1'])).toMatchObject({
      name: 'jobs retry',
      args: { jobId: 'job-1' },
    });
    expect(usageError(['jobs']).message).toBe('jobs: missing subcommand (one of: failed, retry)');
  });

  it.each([
    [[], 'missing command'],
    [['rollback', 'hello'], 'rollback: missing VERSION'],
    [['versions'], 'versions: missing SERVICE'],
    [['drain'], 'drain: missing SERVER'],
    [['status', 'x'], "status: unexpected argument 'x'"],
    [['job'], 'job: missing ID'],
    [['jobs', 'retry'], 'jobs retry: missing ID'],
    [['jobs', 'failed', '--limit', '0'], "invalid --limit '0': expected a whole number of at least 1"],
    [['jobs', 'failed', '--limit', 'all'], "invalid --limit 'all'"],
    [['cluster', 'token'], 'cluster token: missing NAME'],
    [['cluster', 'token', 'x', '--rotate=yes'], "cluster token: option '--rotate' does not take a value"],
    [['status', '--rotate'], "status: unknown option '--rotate'"],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['deploy'], 'deploy: missing PATH'],
    [['invoke'], 'invoke: missing NAME'],
    [['invoke', 'a', 'b'], "invoke: unexpected argument 'b'"],
    [['services', 'x', 'y'], "services: unexpected arguments 'x' 'y'"],
    [['deploy', 'dir', '--bogus'], "deploy: unknown option '--bogus'"],
    [['services', '--async'], "services: unknown option '--async'"],
    [['deploy', 'dir', '--timeout'], "deploy: option '--timeout' needs a value"],
    [
      ['deploy', 'dir', '--timeout', 'soon'],
      "invalid --timeout 'soon': expected a whole number of milliseconds",
    ],
    [['invoke', 'a', '--timeout', '-5'], "invoke: option '--timeout' argument is ambiguous"],
    [['invoke', 'a', '--timeout', '1.5'], "invalid --timeout '1.5'"],
    [['services', '--json=yes'], "services: option '--json' does not take a value"],
    [['services', '--cluster', ''], '--cluster must not be empty'],
    [['services', '--deadline', '0'], '--deadline must be more than 0'],
    [['help', 'nope'], "unknown command 'nope'"],
  ])('rejects %j: %s', (argv, message) => {
    const error = usageError(argv);
    expect(error.message.startsWith(message), `${error.message} should start with ${message}`).toBe(true);
    expect(error.exitCode).toBe(2);
  });

  it('answers help requests', () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const line = parseCommandLine(argv);
      expect(line.kind).toBe('help');
      if (line.kind === 'help') expect(line.text).toMatch(/^Usage: laneway \[options\] COMMAND/);
    }
    for (const argv of [
      ['help', 'deploy'],
      ['deploy', '--help'],
      ['--cluster', 'x', 'deploy', '-h'],
    ]) {
      const line = parseCommandLine(argv);
      expect(line.kind).toBe('help');
      if (line.kind === 'help')
        expect(line.text).toMatch(/^Usage: laneway deploy PATH\.\.\. \[--no-wait\] \[--timeout MS\]/);
    }
    const cluster = parseCommandLine(['help', 'cluster', 'create']);
    expect(cluster.kind === 'help' && cluster.text).toMatch(/^Usage: laneway cluster create NAME/);
  });
});
