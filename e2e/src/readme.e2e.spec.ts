import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanRedisPrefix, freePort, ROOT, uniqueName } from '@laneway/testkit';

/** One fenced `sh` block of the README's Quickstart, and how the README says to run it. */
interface Block {
  readonly line: number;
  readonly script: string;
  /** Marked `<!-- readme-test: background until="TEXT" -->`: a terminal of its own, ready once TEXT is printed. */
  readonly until?: string;
}

/** The `sh` blocks between `## <heading>` and the next `## ` heading, in order. */
function sectionBlocks(markdown: string, heading: string): Block[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l === `## ${heading}`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  const blocks: Block[] = [];
  for (let i = start + 1; i < (end < 0 ? lines.length : end); i++) {
    if (lines[i] !== '```sh') continue;
    const close = lines.findIndex((l, j) => j > i && l === '```');
    const marker = /^<!-- readme-test: background until="([^"]+)" -->$/.exec(lines[i - 1] ?? '');
    blocks.push({ line: i + 1, script: lines.slice(i + 1, close).join('\n'), ...(marker ? { until: marker[1] } : {}) });
    i = close;
  }
  return blocks;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A terminal running a long-lived block: its own process group, so Ctrl-C reaches every process in it. */
class Terminal {
  output = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(
    readonly block: Block,
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn('bash', ['-e', '-o', 'pipefail', '-c', block.script], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk: Buffer): void => void (this.output += chunk.toString('utf8'));
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  async ready(timeoutMs: number): Promise<void> {
    const until = this.block.until!;
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(until)) {
      const gone = await Promise.race([this.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 100))]);
      if (gone || Date.now() > deadline) {
        throw new Error(`README.md:${this.block.line}: no "${until}" ${gone ? 'before it exited' : `within ${timeoutMs} ms`}; output:\n${this.output.slice(-3000)}`);
      }
    }
  }

  /**
   * Ctrl-C: SIGINT to the whole group; resolves with the exit code. Past `graceMs`, SIGKILL to every
   * process below the terminal, wherever its group (nx runs a task's command in a group of its own).
   */
  async interrupt(graceMs = 30_000): Promise<number | null | 'killed'> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    process.kill(-this.child.pid!, 'SIGINT');
    const code = await Promise.race([this.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), graceMs))]);
    if (code !== 'late') return code;
    for (const pid of [this.child.pid!, ...descendantsOf(this.child.pid!)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    await this.exited;
    return 'killed';
  }
}

/** Every process below `root`, read from `ps` (children before they can be re-parented by a kill). */
function descendantsOf(root: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  for (let frontier = [root]; frontier.length; ) {
    frontier = table.filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...frontier);
  }
  return found;
}

function run(block: Block, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', block.script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// The README's Run section: `npx laneway dev` in one terminal, the commands from another, Ctrl-C.
describe('README.md run section (laneway dev), run as written', () => {
  const blocks = sectionBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), 'Run');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-readme-dev-'));
  const prefix = uniqueName('lwreadmedev');
  const terminals: Terminal[] = [];

  afterAll(async () => {
    for (const t of terminals.reverse()) await t.interrupt(10_000);
    rmSync(dataDir, { recursive: true, force: true });
    await cleanRedisPrefix(prefix);
  });

  it('starts the cluster in one terminal, serves the commands run beside it, and stops on Ctrl-C', async () => {
    expect(blocks.filter((b) => b.until).length).toBe(1);
    expect(blocks[0]?.script).toBe('npx laneway dev');
    for (const port of [8080, 8090]) {
      if (!(await portFree(port))) throw new Error(`port ${port} is taken: laneway dev listens on 8080 (channels) and 8090 (web admin) by default`);
    }
    // Its own data directory, gRPC port and Redis prefix, taken from the variables as the CLI beside it takes them.
    const grpc = `127.0.0.1:${await freePort()}`;
    const env = readmeEnv(dataDir, grpc, prefix);
    const all = await runBlocks(blocks, env, terminals, 60_000);
    expect(all).toContain('"greeting": "Hello, Ada!"');
    expect(all).toContain('"status":"serving"');
    const [terminal] = terminals.splice(0);
    expect(terminal!.output).toContain('Web admin   http://127.0.0.1:8090/');
    // Ctrl-C: laneway dev stops its parts (npx itself may end on the signal first) and no process of it is
    // left holding the ports the Quickstart needs.
    const below = descendantsOf(terminal!.pid);
    expect(await terminal!.interrupt()).not.toBe('killed');
    for (const deadline = Date.now() + 15_000; below.some(alive) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(below.filter(alive)).toEqual([]);
    expect(terminal!.output).toMatch(/server +\| .* server stopped/);
    expect(terminal!.output).toContain('laneway dev: stopped (SIGINT)');
    expect(terminal!.output.split('\n').filter((l) => /^\S+ +\| (\d\d:\d\d:\d\d )?(error|fatal) /.test(l))).toEqual([]);
  });
});

/** What each README test runs its blocks with: nothing of the caller's environment but PATH and HOME. */
function readmeEnv(dataDir: string, grpc: string, prefix: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    CI: 'true',
    REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    LANEWAY_DATA_DIR: dataDir,
    LANEWAY_CONTROL_PLANE: grpc,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_CPU_THREADS: '1',
  };
}

/**
 * Runs a section's blocks in order: a terminal block is started (kept in `terminals`) and awaited
 * until ready; any other must exit 0. Returns what the commands printed, joined.
 */
async function runBlocks(blocks: ReturnType<typeof sectionBlocks>, env: NodeJS.ProcessEnv, terminals: Terminal[], readyMs: number): Promise<string> {
  const outputs: string[] = [];
  for (const block of blocks) {
    if (block.until) {
      const terminal = new Terminal(block, env);
      terminals.push(terminal);
      await terminal.ready(readyMs);
      continue;
    }
    const result = await run(block, env);
    if (result.code !== 0) {
      throw new Error(`README.md:${block.line}: the block exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
    }
    outputs.push(result.stdout);
  }
  return outputs.join('\n');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The README's Quickstart is a promise to every new user: its commands, run as written and in order,
// against a fresh control plane and two replicas started by its own `nx serve` lines.
describe('README.md quickstart, run as written', () => {
  const blocks = sectionBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), 'Quickstart');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-readme-'));
  const prefix = uniqueName('lwreadme');
  const terminals: Terminal[] = [];

  afterAll(async () => {
    // Only after a failure: the test itself interrupts them. Whatever is still running goes.
    for (const t of terminals.reverse()) await t.interrupt(10_000);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(path.join(ROOT, 'demo-config'), { recursive: true, force: true });
    await cleanRedisPrefix(prefix);
  });

  it('has terminals to start and commands to run', () => {
    expect(blocks.filter((b) => b.until).length).toBe(3);
    expect(blocks.filter((b) => !b.until).length).toBeGreaterThanOrEqual(5);
  });

  it('runs every block in order; each command succeeds and Ctrl-C stops every terminal cleanly', async () => {
    for (const port of [8080, 8081]) {
      if (!(await portFree(port))) throw new Error(`port ${port} is taken: the README's replicas listen on 8080 and 8081`);
    }
    // A fresh control plane of the test's own (its data directory, gRPC port and Redis prefix), so that
    // nothing of a developer's ./.laneway or running cluster is touched. CI=true: no colours, JSON logs.
    const grpc = `127.0.0.1:${await freePort()}`;
    const env = { ...readmeEnv(dataDir, grpc, prefix), LANEWAY_GRPC_ADDR: grpc };
    const all = await runBlocks(blocks, env, terminals, 120_000);
    // What the prose around the blocks promises, checked on what they printed.
    expect(all).toContain('"greeting": "Hello, Ada!"');
    expect(all).toMatch(/replica-1 +yes +no +127\.0\.0\.1:8080 /);
    expect(all).toMatch(/replica-2 +yes +no +127\.0\.0\.1:8081 /);
    expect(all).toContain('{"greeting":"Hello, Ada!"');
    expect(all).toContain('{"greeting":"Hello, Grace!"');
    expect(all).toContain('401 without the key');
    expect(all).toContain('"greeting": "Welcome, Ada!"');
    expect(all).toContain('"status":"drained"');
    expect(all).toMatch(/state +completed/);
    expect(all).toMatch(/nothing to apply: revision \d+ matches demo-config/);

    // "Stop each terminal with Ctrl-C": every process of every terminal exits, and says nothing at error level.
    for (const terminal of terminals.splice(0).reverse()) {
      const where = `README.md:${terminal.block.line}`;
      expect(await terminal.interrupt(), where).not.toBe('killed');
      expect(terminal.output.split('\n').filter((l) => /"level":(50|60)/.test(l)), where).toEqual([]);
    }
  });
});
