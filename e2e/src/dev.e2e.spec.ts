import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanRedisPrefix, DIST, REDIS_URL, ROOT, uniqueName } from '@laneway/testkit';

const CLI = path.join(DIST, 'cli/main.js');

/** `laneway dev` as a user runs it in a terminal: a process group of its own, so a test's SIGINT to the group is a Ctrl-C. */
class Dev {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly child: ChildProcess;

  constructor(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [CLI, 'dev', ...args], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (c: Buffer) => void (this.stdout += c.toString('utf8')));
    this.child.stderr!.on('data', (c: Buffer) => void (this.stderr += c.toString('utf8')));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** The banner's addresses, once it is printed. */
  async up(timeoutMs = 60_000): Promise<Banner> {
    const deadline = Date.now() + timeoutMs;
    while (!/Try it from another terminal[\s\S]*\n\n$/.test(this.stdout)) {
      const gone = await Promise.race([this.exited.then(() => true), sleep(50).then(() => false)]);
      if (gone || Date.now() > deadline)
        throw new Error(
          `laneway dev is not up (${gone ? 'it exited' : 'timed out'})\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr.slice(-4000)}`,
        );
    }
    const field = (label: string): string => {
      const match = new RegExp(`^ {2}${label} +(\\S+)`, 'm').exec(this.stdout);
      if (!match) throw new Error(`no ${label} in the banner:\n${this.stdout}`);
      return match[1]!;
    };
    const commands = this.stdout
      .split('Try it from another terminal, in this directory:\n\n')[1]!
      .trimEnd()
      .split('\n')
      .map((l) => l.trim());
    return { webAdmin: field('Web admin'), grpc: field('gRPC API'), channels: field('Channels'), commands };
  }

  /** Every process below it (its parts and theirs), read from ps. */
  descendants(): number[] {
    return descendantsOf(this.child.pid!);
  }
}

interface Banner {
  readonly webAdmin: string;
  readonly grpc: string;
  readonly channels: string;
  /** The lines under "Try it": an export line, then the commands. */
  readonly commands: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function descendantsOf(root: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  for (let frontier = [root]; frontier.length;) {
    frontier = table.filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...frontier);
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    sleep(ms).then((): never => {
      throw new Error(`${what} took more than ${ms} ms`);
    }),
  ]);
}

/** Runs the banner's lines in bash, `npx laneway` being the built CLI (npx outside the repository would look in the registry). */
function runLines(lines: readonly string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const script = lines.map((line) => line.replace(/^npx laneway /, `node ${CLI} `)).join('\n');
  return execFileSync('bash', ['-e', '-o', 'pipefail', '-c', script], {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The terminal's error-level lines (laneway dev shows each part's line as `part | HH:MM:SS level …`). */
const errorLines = (stderr: string): string[] =>
  stderr.split('\n').filter((l) => /^\S+ +\| (\d\d:\d\d:\d\d )?(error|fatal) /.test(l));

describe('laneway dev', () => {
  // A directory of its own, as a user's project: the data goes to ./.laneway, examples/ is the repository's.
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'laneway-dev-e2e-'));
  symlinkSync(path.join(ROOT, 'examples'), path.join(cwd, 'examples'));
  const prefix = uniqueName('lwdev');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    REDIS_URL,
    LANEWAY_CPU_THREADS: '1',
  };
  const args = ['--grpc-port', '0', '--http-port', '0', '--admin-port', '0', '--queue-prefix', prefix];
  const started: Dev[] = [];
  const start = (extra: readonly string[] = [], dir = cwd): Dev => {
    const dev = new Dev([...args, ...extra], dir, env);
    started.push(dev);
    return dev;
  };

  afterAll(async () => {
    // Only after a failure: whatever is left goes.
    for (const dev of started) {
      for (const pid of [dev.child.pid!, ...dev.descendants()]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
    rmSync(cwd, { recursive: true, force: true });
    await cleanRedisPrefix(prefix);
  });

  it('starts a cluster whose printed commands work, and stops all of it on Ctrl-C with exit 0', async () => {
    const dev = start();
    const banner = await dev.up();
    expect(banner.webAdmin).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(banner.grpc).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(banner.channels).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(dev.stdout).toContain("Laneway dev cluster 'default' is up.");
    expect(dev.stdout).toContain('Sign in     user admin, password: the admin token in .laneway/admin-token');
    // gRPC on a port of its own: the one variable the CLI needs; the token is in ./.laneway, where it looks.
    expect(banner.commands[0]).toBe(`export LANEWAY_CONTROL_PLANE=${banner.grpc}`);
    expect(readFileSync(path.join(cwd, '.laneway/admin-token'), 'utf8')).toMatch(/^lwa_/);

    // What the banner says to try, as printed: deploy the example, invoke it, give it a channel and call it.
    // And the CPU lane: its threads run in the server under laneway dev as anywhere.
    const output = runLines(
      [...banner.commands, `npx laneway invoke hello.crunch --data '{"n":1000}'`],
      cwd,
      env,
    );
    expect(output).toContain('dev-server  ACKED  applied revision 1');
    expect(output).toContain('"greeting": "Hello, Ada!"');
    expect(output).toContain('{"greeting":"Hello, Ada!","server":"dev-server"}');
    expect(output).toContain('"sum": 21066');

    // The control plane's HTTP listener, where the web admin is.
    const health = await fetch(new URL('healthz', banner.webAdmin));
    expect(health.status).toBe(200);
    // Once the web admin is in the repository (so in the build): sign in as the banner says, user admin
    // with the admin token as password, and see the overview.
    if (tracked('apps/control-plane/src/web-admin/web-admin.ts')) {
      const form = await fetch(new URL('login', banner.webAdmin));
      expect(form.status).toBe(200);
      const page = await form.text();
      expect(page).toMatch(/<form[\s\S]*password/i);
      const loginCookie = form.headers
        .getSetCookie()
        .find((c) => c.startsWith('lw_login='))!
        .split(';')[0]!;
      const signIn = await fetch(new URL('login', banner.webAdmin), {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: loginCookie,
          origin: new URL(banner.webAdmin).origin,
        },
        body: new URLSearchParams({
          _csrf: /name="_csrf" value="([^"]+)"/.exec(page)![1]!,
          username: 'admin',
          password: readFileSync(path.join(cwd, '.laneway/admin-token'), 'utf8').trim(),
        }),
      });
      expect(signIn.status, await signIn.clone().text()).toBeGreaterThanOrEqual(300);
      expect(signIn.status).toBeLessThan(400);
      expect(signIn.headers.get('location')).toBe('/');
      const session = signIn.headers
        .getSetCookie()
        .find((c) => c.startsWith('lw_session='))!
        .split(';')[0]!;
      const overview = await fetch(banner.webAdmin, { headers: { cookie: session } });
      expect(overview.status).toBe(200);
      expect(await overview.text()).toContain('dev-server');
    }

    const parts = dev.descendants();
    expect(parts.length).toBeGreaterThanOrEqual(2);
    process.kill(-dev.child.pid!, 'SIGINT');
    expect(await within(dev.exited, 15_000, 'stopping on SIGINT')).toEqual({ code: 0, signal: null });
    expect(parts.filter(alive)).toEqual([]);
    expect(dev.stderr).toMatch(/server +\| .* server stopped/);
    expect(dev.stderr).toMatch(/control-plane +\| .* shutting down/);
    expect(errorLines(dev.stderr)).toEqual([]);
    // The whole lines are in the log files, none at error level.
    for (const part of ['control-plane', 'server']) {
      const log = readFileSync(path.join(cwd, `.laneway/logs/${part}.log`), 'utf8');
      expect(log).toContain('"msg":"');
      expect(log.split('\n').filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
    }
  });

  it('keeps the data for the next run, and stops everything, naming it, when a part dies', async () => {
    const dev = start();
    const banner = await dev.up();
    const services = runLines([banner.commands[0]!, 'npx laneway services'], cwd, env);
    expect(services).toContain('hello.greet');
    expect(runLines([banner.commands[0]!, 'npx laneway channels'], cwd, env)).toContain('/greet/:name');

    const serverPid = pidOf(dev, 'server/main.js');
    const parts = dev.descendants();
    process.kill(serverPid, 'SIGKILL');
    expect(await within(dev.exited, 15_000, 'stopping after the server died')).toEqual({
      code: 1,
      signal: null,
    });
    expect(dev.stderr).toMatch(
      /error: the server was killed by SIGKILL.*Stopped the control plane; its log: .*server\.log/,
    );
    expect(parts.filter(alive)).toEqual([]);
  });

  it('fails at once, naming the port and its flag, when a port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-dev-e2e-port-'));
    try {
      const dev = start(['--http-port', String(port)], dir);
      expect(await within(dev.exited, 10_000, 'refusing a taken port')).toEqual({ code: 1, signal: null });
      expect(dev.stderr).toContain(
        `error: port ${port} (channels) is already in use on 127.0.0.1: stop what listens there, or give another port with --http-port, e.g. --http-port ${port + 1}`,
      );
      // Nothing was started.
      expect(existsSync(path.join(dir, '.laneway'))).toBe(false);
    } finally {
      taken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function tracked(file: string): boolean {
  try {
    execFileSync('git', ['ls-files', '--error-unmatch', file], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The pid of the part running `entry` (server/main.js), from ps. */
function pidOf(dev: Dev, entry: string): number {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' });
  const pids = new Set(dev.descendants());
  for (const line of table.split('\n')) {
    const [pid, ...rest] = line.trim().split(/\s+/);
    if (pids.has(Number(pid)) && rest.join(' ').endsWith(entry)) return Number(pid);
  }
  throw new Error(`no ${entry} below laneway dev`);
}
