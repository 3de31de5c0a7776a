/**
 * `laneway user …` and `laneway token …` end to end against a real control plane (built from this
 * checkout with esbuild, as connections.int.spec.ts does, and run as a child process), and the CLI
 * acting with a user's token in LANEWAY_TOKEN: an operator may drain but not create a cluster, and a
 * revoked token is refused.
 */
import { build } from 'esbuild';
import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './cli';
import type { SecretInput } from './read-secret';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = `cli-users-admin-${randomBytes(8).toString('hex')}`;
const BUILD_CACHE = path.join(ROOT, 'node_modules/.cache/laneway-tests');
const PASSWORD = `ann-password-${randomBytes(6).toString('hex')}`;
const NEW_PASSWORD = `ann-new-password-${randomBytes(6).toString('hex')}`;

async function buildControlPlane(outdir: string): Promise<string> {
  const src = path.join(ROOT, 'apps/control-plane/src');
  await build({
    entryPoints: { main: path.join(src, 'main.ts'), 'compile-worker': path.join(src, 'deploy/compile-worker.ts') },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    tsconfig: path.join(ROOT, 'apps/control-plane/tsconfig.json'),
    plugins: [
      {
        name: 'external-packages',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@laneway/') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
    logLevel: 'silent',
  });
  return path.join(outdir, 'main.js');
}

/** Starts the control plane; resolves with it and its gRPC port once it logs that it listens. */
function startControlPlane(main: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [main], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the control plane did not start within 30 s:\n${output.slice(-3000)}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the control plane exited (${code}):\n${output.slice(-3000)}`));
    });
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('"msg":"control plane listening"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout?.removeListener('data', onData);
      child.stderr?.removeListener('data', onData);
      child.stdout?.resume();
      child.stderr?.resume();
      resolve({ child, port: Number((JSON.parse(line) as { port: number }).port) });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

describe('laneway user and token against a real control plane', () => {
  const prefix = `lwcliusers${randomBytes(4).toString('hex')}`;
  let dataDir = '';
  let work = '';
  let builds = '';
  let controlPlane: ChildProcess | undefined;
  let address = '';
  const printed: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'laneway-cli-users-data-'));
    work = mkdtempSync(path.join(tmpdir(), 'laneway-cli-users-'));
    writeFileSync(path.join(work, 'ann.pw'), `${PASSWORD}\n`);
    mkdirSync(BUILD_CACHE, { recursive: true });
    builds = mkdtempSync(path.join(BUILD_CACHE, 'cli-users-'));
    const started = await startControlPlane(await buildControlPlane(builds), {
      LANEWAY_GRPC_ADDR: '127.0.0.1:0',
      LANEWAY_HTTP_ADDR: '127.0.0.1:0',
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_LOG_FORMAT: 'json',
      LANEWAY_COMPILE_WORKERS: '1',
      REDIS_URL,
    });
    controlPlane = started.child;
    address = `127.0.0.1:${started.port}`;
  }, 120_000);

  afterAll(async () => {
    await stop(controlPlane);
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis
      .connect()
      .then(async () => {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      })
      .catch(() => undefined)
      .finally(() => redis.disconnect());
    if (builds) rmSync(builds, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  async function cli(argv: string[], token = ADMIN_TOKEN, stdin: SecretInput = Readable.from([])) {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      env: { LANEWAY_CONTROL_PLANE: address, LANEWAY_TOKEN: token },
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
      stdin,
      cwd: work,
    });
    printed.push(stdout, stderr);
    return { code, stdout, stderr };
  }

  it('creates a user, a token for it, and acts with that token as far as its role goes', async () => {
    expect(await cli(['user', 'create', 'ann', '--role', 'operator', '--password-file', 'ann.pw'])).toEqual({ code: 0, stdout: "created user 'ann' (operator)\n", stderr: '' });
    const list = await cli(['user', 'list', '--json']);
    expect(list.code).toBe(0);
    const users = (JSON.parse(list.stdout) as { users: { username: string; role: string }[] }).users;
    expect(users).toEqual(expect.arrayContaining([expect.objectContaining({ username: 'admin', role: 'ADMIN' }), expect.objectContaining({ username: 'ann', role: 'OPERATOR' })]));
    expect((await cli(['user', 'list'])).stdout).toMatch(/^USERNAME\s+ROLE[\s\S]*\nann\s+operator\s/m);

    const created = await cli(['token', 'create', 'ci', '--user', 'ann', '--expires-in', '1h']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^lwu_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toMatch(/token '[0-9a-f]{16}' of user 'ann', expires 20.*shown once/);
    const token = created.stdout.trim();

    expect((await cli(['servers'], token)).code).toBe(0);
    const drain = await cli(['drain', 'nobody'], token);
    expect(drain.code).toBe(1);
    expect(drain.stderr).toMatch(/NOT_FOUND/);
    const refused = await cli(['cluster', 'create', 'not-for-operators'], token);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/PERMISSION_DENIED: CreateCluster needs the admin role; user 'ann' is an operator/);

    const tokens = await cli(['token', 'list'], token);
    expect(tokens.stdout).toMatch(/ci\s+ann\s+active/);
    expect(tokens.stdout).not.toContain('lwu_');

    // Own password, typed on stdin (never argv).
    expect((await cli(['user', 'set-password'], token, Readable.from([Buffer.from(`${NEW_PASSWORD}\n`)]))).code).toBe(0);

    const id = (JSON.parse((await cli(['token', 'list', '--user', 'ann', '--json'])).stdout) as { tokens: { id: string }[] }).tokens[0]!.id;
    expect(await cli(['token', 'revoke', id])).toEqual({ code: 0, stdout: `revoked token '${id}'\n`, stderr: '' });
    const revoked = await cli(['servers'], token);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/UNAUTHENTICATED: .*was revoked at/);

    expect((await cli(['user', 'set-role', 'ann', 'viewer'])).stdout).toBe("updated user 'ann' (viewer)\n");
    expect((await cli(['user', 'delete', 'ann'])).code).toBe(0);
    expect((await cli(['user', 'delete', 'admin'])).stderr).toMatch(/FAILED_PRECONDITION: .*last admin user/);
    for (const text of printed) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(NEW_PASSWORD);
    }
  });
});
