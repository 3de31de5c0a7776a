// What a new user meets first, run the way the README tells them to: several replicas from one
// checkout with `npx nx serve server`, a Ctrl-C that stops things cleanly, and the admin token of a
// first start shown on the terminal but never written into the JSON log.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  Api,
  AppProcess,
  DIST,
  REDIS_URL,
  ROOT,
  cleanRedisPrefix,
  eventually,
  freePort,
  runCli,
  startControlPlane,
  uniqueName,
  type ControlPlaneHandle,
  type LogLine,
} from '@laneway/testkit';

const hello = `import { defineService } from '@laneway/sdk';
export default defineService({ name: 'front.hello', handle: (input: { name?: string }) => ({ hello: input.name ?? 'you' }) });
`;

/** A process started in a process group of its own, as a shell starts a command in a terminal. */
interface GroupProcess {
  proc: AppProcess;
  pid: number;
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const groups: GroupProcess[] = [];
const dirs: string[] = [];
const prefixes: string[] = [];

/**
 * Runs `command` from the repository root with only PATH and HOME from this process (like a new
 * terminal: no NX_* variables of an nx run around the tests) plus `env`, in a new process group.
 */
function startInGroup(name: string, command: string, args: string[], env: Record<string, string>): GroupProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? os.homedir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stderr: string[] = [];
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => {
    const text = pending + chunk.toString('utf8');
    const lines = text.split('\n');
    pending = lines.pop()!;
    stderr.push(...lines);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const started: GroupProcess = { proc: new AppProcess(name, child), pid: child.pid!, stderr, exit };
  groups.push(started);
  return started;
}

/** True once no process of the group is left (a compile process or a server behind nx included). */
function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Ctrl-C: SIGINT to the whole process group. Resolves with how the group's leader exited. */
async function ctrlC(group: GroupProcess, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  process.kill(-group.pid, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${group.proc.name}: still running ${timeoutMs} ms after SIGINT; output:\n${group.proc.output.slice(-30).join('\n')}`)), timeoutMs);
  });
  try {
    return await Promise.race([group.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const errorLines = (group: GroupProcess): LogLine[] => group.proc.lines.filter((l) => (l.level ?? 0) >= 50);
const stackFrames = (group: GroupProcess): string[] => group.proc.output.filter((l) => /^\s+at .+\(.+:\d+:\d+\)$/.test(l));

function tempDir(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `laneway-front-door-${name}-`));
  dirs.push(dir);
  return dir;
}

function newPrefix(): string {
  const prefix = uniqueName('front');
  prefixes.push(prefix);
  return prefix;
}

function startBuiltControlPlane(env: Record<string, string>): GroupProcess {
  return startInGroup('control-plane', process.execPath, [path.join(DIST, 'control-plane/main.js')], {
    LANEWAY_GRPC_ADDR: '127.0.0.1:0',
    LANEWAY_HTTP_ADDR: '127.0.0.1:0',
    LANEWAY_LOG_FORMAT: 'json',
    REDIS_URL,
    ...env,
  });
}

afterEach(async () => {
  for (const group of groups.splice(0)) {
    // Ctrl-C first: nx runs the server in a session of its own, which only nx's own shutdown stops.
    if (!groupGone(group.pid)) {
      process.kill(-group.pid, 'SIGINT');
      await Promise.race([group.exit, new Promise((r) => setTimeout(r, 10_000))]);
    }
    if (!groupGone(group.pid)) process.kill(-group.pid, 'SIGKILL');
    // Anything that logged through this group (the server behind nx) and is still running.
    for (const pid of new Set(group.proc.lines.map((l) => Number(l['pid'])))) {
      if (pid > 0 && !pidGone(pid)) process.kill(pid, 'SIGKILL');
    }
  }
});

afterAll(async () => {
  for (const prefix of prefixes) await cleanRedisPrefix(prefix);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('several replicas from one checkout (README: `npx nx serve server` in each terminal)', () => {
  let cp: ControlPlaneHandle | undefined;
  afterAll(async () => {
    await cp?.process.stop();
  });

  it('runs two `npx nx serve server` at once: both join, their logs stream, and Ctrl-C stops each', async () => {
    const prefix = newPrefix();
    cp = await startControlPlane({ LANEWAY_DATA_DIR: tempDir('nx'), LANEWAY_QUEUE_PREFIX: prefix });
    const api = new Api(cp.address, cp.adminToken);
    const joinToken = await api.joinToken('default');
    api.close();
    const names = [uniqueName('replica-1'), uniqueName('replica-2')];
    const replicas = await Promise.all(
      names.map(async (name) =>
        startInGroup(`nx serve ${name}`, 'npx', ['nx', 'serve', 'server'], {
          LANEWAY_CONTROL_PLANE: cp!.address,
          LANEWAY_JOIN_TOKEN: joinToken,
          LANEWAY_SERVER_NAME: name,
          LANEWAY_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
          LANEWAY_QUEUE_PREFIX: prefix,
          LANEWAY_LOG_FORMAT: 'json',
          LANEWAY_CPU_THREADS: '1',
          REDIS_URL,
        }),
      ),
    );
    // Each server's "serving" line arrives through nx while it runs: the output streams. (With the
    // serve target continuous, the second nx waited for ever for the first one's task instead.)
    const serving = await Promise.all(replicas.map((r) => r.proc.waitForLog((l) => l.msg === 'server serving', 90_000)));
    expect(serving.map((l) => l['server'])).toEqual(names);
    const serverPids = serving.map((l) => Number(l['pid']));
    expect(new Set(serverPids).size).toBe(2);

    const cliEnv = { LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_TOKEN: ADMIN_TOKEN };
    const listed = await runCli(['servers', '--json'], cliEnv);
    expect(listed.code, listed.stderr).toBe(0);
    const servers = (JSON.parse(listed.stdout) as { servers: { name: string; connected: boolean }[] }).servers;
    expect(servers.filter((s) => names.includes(s.name)).map((s) => [s.name, s.connected]).sort()).toEqual(names.map((n) => [n, true]));

    // Ctrl-C in each terminal: nx exits, and the server it ran is gone with it.
    await Promise.all(replicas.map((r) => ctrlC(r)));
    await eventually(
      async () => serverPids.map(pidGone),
      (gone) => gone.every(Boolean),
      10_000,
    );
    for (const r of replicas) expect(groupGone(r.pid)).toBe(true);
    const after = await eventually(
      async () => (JSON.parse((await runCli(['servers', '--json'], cliEnv)).stdout) as { servers: { name: string; connected: boolean }[] }).servers,
      (list) => list.filter((s) => names.includes(s.name)).every((s) => !s.connected),
    );
    expect(after.filter((s) => names.includes(s.name))).toHaveLength(2);
  });
});

describe('Ctrl-C (SIGINT to the process group) is a clean shutdown', () => {
  it('stops a server and the control plane with exit code 0 and no error-level line, after a deploy compiled something', async () => {
    const prefix = newPrefix();
    const dataDir = tempDir('sigint');
    const cp = startBuiltControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_ADMIN_TOKEN: ADMIN_TOKEN, LANEWAY_QUEUE_PREFIX: prefix });
    const listening = await cp.proc.waitForLog((l) => l.msg === 'control plane listening');
    const address = `127.0.0.1:${String(listening['port'])}`;
    const api = new Api(address, ADMIN_TOKEN);
    try {
      const name = uniqueName('sigint');
      const server = startInGroup(`server ${name}`, process.execPath, [path.join(DIST, 'server/main.js')], {
        LANEWAY_CONTROL_PLANE: address,
        LANEWAY_JOIN_TOKEN: await api.joinToken('default'),
        LANEWAY_SERVER_NAME: name,
        LANEWAY_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
        LANEWAY_QUEUE_PREFIX: prefix,
        LANEWAY_LOG_FORMAT: 'json',
        LANEWAY_CPU_THREADS: '1',
        REDIS_URL,
      });
      await server.proc.waitForLog((l) => l.msg === 'server serving');
      // The compile processes have compiled and loaded a file, and the server runs what they made.
      const deployed = await api.deploy('default', [{ path: 'front/hello.ts', content: hello }]);
      expect(deployed.servers.map((s) => s.server)).toEqual([name]);
      expect(JSON.parse((await api.invoke('default', 'front.hello', { name: 'Ada' })).outputJson)).toEqual({ hello: 'Ada' });

      expect(await ctrlC(server)).toEqual({ code: 0, signal: null });
      expect(server.proc.lines.some((l) => l.msg?.startsWith('shutting down') && l['signal'] === 'SIGINT')).toBe(true);
      expect(errorLines(server)).toEqual([]);
      expect(stackFrames(server)).toEqual([]);
      expect(groupGone(server.pid)).toBe(true);

      expect(await ctrlC(cp)).toEqual({ code: 0, signal: null });
      expect(cp.proc.lines.some((l) => l.msg === 'shutting down' && l['signal'] === 'SIGINT')).toBe(true);
      expect(errorLines(cp)).toEqual([]);
      expect(stackFrames(cp)).toEqual([]);
      // No compile process is left behind.
      await eventually(
        async () => groupGone(cp.pid),
        (gone) => gone,
        5_000,
      );
    } finally {
      api.close();
    }
  });
});

describe('the admin token of a first start', () => {
  it('is kept in the data directory and named on stderr, never in the JSON log', async () => {
    const dataDir = tempDir('token');
    const env = { LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: newPrefix() };
    const first = startBuiltControlPlane(env);
    const generated = await first.proc.waitForLog((l) => l.msg === 'generated the admin token');
    const file = path.join(dataDir, 'admin-token');
    expect(generated['file']).toBe(file);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^lwa_[\w-]{20,}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await eventually(
      async () => first.stderr.join('\n'),
      (text) => text.includes('Generated the admin token'),
      5_000,
    );
    expect(await ctrlC(first)).toEqual({ code: 0, signal: null });
    // stderr is a pipe here, which usually ends in a log collector too: it names the file, not the token.
    expect(first.stderr.filter((l) => l.includes('Generated the admin token'))).toEqual([expect.stringContaining(file)]);
    expect(first.proc.lines.length).toBeGreaterThan(3);
    expect(first.proc.output.filter((l) => l.includes(token))).toEqual([]);

    // A later start reads it from the file, and says nothing more about it.
    const second = startBuiltControlPlane(env);
    await second.proc.waitForLog((l) => l.msg === 'admin token loaded');
    expect(await ctrlC(second)).toEqual({ code: 0, signal: null });
    expect(second.stderr.join('\n')).not.toContain('admin token');
    expect(second.proc.output.filter((l) => l.includes(token))).toEqual([]);
  });

  it('is shown on a terminal, in a plain line apart from the JSON log lines', async () => {
    const dataDir = tempDir('token-tty');
    // util-linux `script` gives the control plane a terminal for stdout and stderr, as a shell has.
    const cp = startInGroup('control-plane on a terminal', 'script', ['-qefc', `${process.execPath} ${path.join(DIST, 'control-plane/main.js')}`, '/dev/null'], {
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_QUEUE_PREFIX: newPrefix(),
      LANEWAY_GRPC_ADDR: '127.0.0.1:0',
      LANEWAY_HTTP_ADDR: '127.0.0.1:0',
      LANEWAY_LOG_FORMAT: 'json',
      REDIS_URL,
    });
    const generated = await cp.proc.waitForLog((l) => l.msg === 'generated the admin token');
    const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    const shown = await eventually(
      async () => cp.proc.output.filter((l) => l.includes(token)),
      (lines) => lines.length > 0,
      5_000,
    );
    expect(shown.map((l) => l.trim())).toEqual([token]);
    expect(cp.proc.lines.filter((l) => JSON.stringify(l).includes(token))).toEqual([]);
    // The control plane runs in the terminal's own session: stop it by its pid (from its log).
    process.kill(Number(generated['pid']), 'SIGINT');
    expect((await cp.exit).code).toBe(0);
  });
});
