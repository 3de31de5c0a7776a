import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
export const DIST = path.join(ROOT, 'dist/apps');
export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

/** A real child process running one of the built apps, with its JSON log lines collected. */
export class AppProcess {
  readonly lines: LogLine[] = [];
  readonly output: string[] = [];
  private exited: Promise<number | null>;
  private waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.output.push(text);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => {
          if (!w.match(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms; output:\n${this.output.slice(-30).join('\n')}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  /** Resolves with the exit code once the process has exited (null after a signal). */
  waitForExit(): Promise<number | null> {
    return this.exited;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (graceful) and wait; SIGKILL if it takes longer than `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Where a live process is stuck: asks it for a Node diagnostic report (SIGUSR2, see REPORT_ARGS) and
   * gives its JavaScript stacks (main thread and worker threads) and its active handles, as text for a
   * failure message; says so when it did not answer in `timeoutMs`.
   */
  async report(timeoutMs = 3_000): Promise<string> {
    const pid = this.child.pid;
    if (!this.alive || pid === undefined) return '';
    this.child.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const file = readdirSync(REPORT_DIR).find((f) => f.includes(`.${pid}.`) && f.endsWith('.json'));
      if (!file) continue;
      try {
        const text = readFileSync(path.join(REPORT_DIR, file), 'utf8');
        const summary = summarizeReport(JSON.parse(text) as NodeReport);
        rmSync(path.join(REPORT_DIR, file), { force: true });
        return `\n--- ${this.name} (pid ${pid}), Node report on SIGUSR2:\n${summary}`;
      } catch {
        // Still being written: read it again.
      }
    }
    return `\n--- ${this.name} (pid ${pid}): no Node report within ${timeoutMs} ms of SIGUSR2 (its main thread did not reach JavaScript's interrupt check: blocked in native code?)`;
  }
}

/** The parts of a Node diagnostic report (process.report) a failure message shows. */
interface NodeReport {
  javascriptStack?: { message?: string; stack?: string[] };
  libuv?: { type?: string; is_active?: boolean }[];
  workers?: NodeReport[];
}

function summarizeReport(report: NodeReport, indent = ''): string {
  const stack = (report.javascriptStack?.stack ?? []).map((l) => l.trim()).filter((l) => l && l !== 'No stack.' && l !== 'Unavailable.');
  const lines = stack.length
    ? [`${indent}JavaScript: ${report.javascriptStack?.message ?? ''}`, ...stack.slice(0, 15).map((l) => `${indent}  ${l}`)]
    : [`${indent}JavaScript: idle (the event loop was waiting)`];
  const counts = new Map<string, number>();
  for (const h of report.libuv ?? []) if (h.is_active) counts.set(h.type ?? '?', (counts.get(h.type ?? '?') ?? 0) + 1);
  if (counts.size) lines.push(`${indent}active handles: ${[...counts].map(([type, n]) => `${type} x${n}`).join(', ')}`);
  for (const [n, worker] of (report.workers ?? []).entries()) lines.push(`${indent}worker thread ${n + 1}:`, summarizeReport(worker, `${indent}  `));
  return lines.join('\n');
}

/**
 * Node flags for every app process started here (CLI runs too), from `LANEWAY_CHILD_NODE_ARGS` in the test's own
 * environment (space-separated), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the apps under
 * a benchmark (Node 20 refuses --cpu-prof in NODE_OPTIONS).
 */
const CHILD_NODE_ARGS = (process.env['LANEWAY_CHILD_NODE_ARGS'] ?? '').split(' ').filter(Boolean);

/**
 * Every app process started here writes a Node diagnostic report on SIGUSR2 (AppProcess.report): a
 * start that times out then says where the process was waiting, not just that it printed nothing.
 */
const REPORT_DIR = path.join(os.tmpdir(), 'laneway-node-reports');
mkdirSync(REPORT_DIR, { recursive: true });
const REPORT_ARGS = ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${REPORT_DIR}`, '--report-compact'];

function start(name: string, script: string, env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, [...REPORT_ARGS, ...CHILD_NODE_ARGS, path.join(DIST, script)], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new AppProcess(name, child);
}

export interface ControlPlaneHandle {
  process: AppProcess;
  address: string;
  adminToken: string;
  /** `off`, `generated` or `files`: how it serves gRPC (its "listening" log line says). */
  tls: string;
  /** With generated certificates: the CA file it published (`<data dir>/ca.pem`) and its content. */
  caFile?: string;
  ca?: Buffer;
  /** The port of its HTTP listener (GET /metrics, /healthz), unless LANEWAY_HTTP_ADDR=off. */
  httpPort?: number;
}

/** The admin token the e2e control planes use (set through LANEWAY_ADMIN_TOKEN). */
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';

/** A start that did not finish in time: the process's Node report joins the error, then the process is killed. */
async function failedStart(proc: AppProcess, err: unknown): Promise<never> {
  const report = await proc.report();
  await proc.kill9();
  throw report ? new Error(`${(err as Error).message}${report}`) : err;
}

export async function startControlPlane(env: Record<string, string>): Promise<ControlPlaneHandle> {
  const proc = start('control-plane', 'control-plane/main.js', {
    LANEWAY_GRPC_ADDR: '127.0.0.1:0',
    // Any free port, so that many control planes share this host (the default, 127.0.0.1:8090, fits one).
    LANEWAY_HTTP_ADDR: '127.0.0.1:0',
    LANEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    REDIS_URL,
    ...env,
  });
  const line = await proc.waitForLog((l) => l.msg === 'control plane listening').catch((err: unknown) => failedStart(proc, err));
  // With LANEWAY_ADMIN_TOKEN set to '', the control plane generates its token into a file (the log
  // names the file, never the token) or reads it from there.
  const adminToken =
    env['LANEWAY_ADMIN_TOKEN'] === ''
      ? readFileSync(String((await proc.waitForLog((l) => l.msg === 'generated the admin token' || l.msg === 'admin token loaded'))['file']), 'utf8').trim()
      : (env['LANEWAY_ADMIN_TOKEN'] ?? ADMIN_TOKEN);
  const caFile = typeof line['caFile'] === 'string' ? line['caFile'] : undefined;
  return {
    process: proc,
    address: `127.0.0.1:${String(line['port'])}`,
    adminToken,
    tls: String(line['tls'] ?? 'off'),
    ...(caFile ? { caFile, ca: readFileSync(caFile) } : {}),
    ...(typeof line['httpPort'] === 'number' ? { httpPort: line['httpPort'] } : {}),
  };
}

export async function startServer(env: Record<string, string>, waitUntilServing = true): Promise<AppProcess> {
  const proc = start(`server ${env['LANEWAY_SERVER_NAME'] ?? ''}`, 'server/main.js', {
    REDIS_URL,
    LANEWAY_CPU_THREADS: '1',
    // Any free port, so that many replicas share this host (the default, 127.0.0.1:8080, fits one).
    LANEWAY_HTTP_ADDR: '127.0.0.1:0',
    ...env,
  });
  if (waitUntilServing) {
    await proc.waitForLog((l) => l.msg === 'server serving').catch((err: unknown) => failedStart(proc, err));
  }
  return proc;
}

export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CHILD_NODE_ARGS, path.join(DIST, 'cli/main.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Ports this process has handed out: a drill or test keeps each for its whole run (a restart reuses it). */
const handedOut = new Set<number>();

/**
 * Ports handed out by any process on this machine lately, one file each (`<tmp>/laneway-ports/PORT`,
 * created exclusively): e2e files, unit projects and drills that run at the same time draw from the
 * same kernel and could otherwise be given the same port. A claim older than PORT_CLAIM_MS is stale
 * (its run is over) and may be taken again.
 */
const PORT_CLAIMS = path.join(os.tmpdir(), 'laneway-ports');
const PORT_CLAIM_MS = 15 * 60_000;
mkdirSync(PORT_CLAIMS, { recursive: true });

function claimPort(port: number): boolean {
  const file = path.join(PORT_CLAIMS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    // Anything but "another process holds it" (a read-only tmp, say): this process's own set still guards.
    if ((err as { code?: unknown }).code !== 'EEXIST') return true;
  }
  try {
    if (Date.now() - statSync(file).mtimeMs < PORT_CLAIM_MS) return false;
    const now = new Date();
    utimesSync(file, now, now);
    return true;
  } catch {
    return true;
  }
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1 and that neither this process nor another one
 * (see PORT_CLAIMS) has handed out lately. The kernel picks bind(0) ports at random, so two calls can
 * return the same port while neither is in use yet (CI: two drill servers given one port, the second
 * failing with EADDRINUSE); such a repeat is drawn again.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await kernelPort();
    if (!handedOut.has(port) && claimPort(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: 100 draws returned only ports already handed out (${handedOut.size} by this process; claims in ${PORT_CLAIMS})`);
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Fails, naming how to install it, unless Debian's haproxy runs: CI installs it (.ci/run), so a missing one is an error, not a skip. */
export function requireHaproxy(): void {
  const version = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    throw new Error(`haproxy is not installed (${version.error?.message ?? `exit ${version.status}`}): apt-get install -y haproxy (.ci/run installs it)`);
  }
}
