import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { formatPartLine, parseLogLine } from './dev-log';

/**
 * Loaded into each part before its app (`node --import`): once its parent is gone (`laneway dev` killed
 * with SIGKILL, so that it could not stop it), the part stops itself with SIGTERM, its clean shutdown,
 * instead of living on with the ports. Checked every second on an unref'd timer.
 */
const PARENT_GUARD = `data:text/javascript,${encodeURIComponent(
  'const parent = process.ppid; setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, "SIGTERM"); }, 1000).unref();',
)}`;

/** How a part ended. */
export interface PartExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface DevPartOptions {
  /** `control-plane`, `server`: the terminal's prefix and the log file's name. */
  readonly name: string;
  /** Width the names are padded to, so that the parts' lines line up. */
  readonly labelWidth: number;
  readonly entry: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Every line it prints (stdout and stderr) goes here whole. */
  readonly logFile: string;
  /** Fields the terminal leaves out of every line (the same on all of them): the server's `cluster` and `server`. */
  readonly omitFields?: ReadonlySet<string>;
  /** The terminal's summary of each line. */
  readonly show: (line: string) => void;
}

/**
 * One part of `laneway dev`: a built app (control plane or server) as a child process. It runs in a
 * process group of its own, so that a Ctrl-C on the terminal reaches `laneway dev` alone, which stops
 * the parts in order (the server first, while the control plane it syncs with is still there).
 */
export class DevPart {
  readonly child: ChildProcess;
  readonly exited: Promise<PartExit>;
  /** The last lines it wrote on stderr, for the message when it dies. */
  readonly stderrTail: string[] = [];
  private readonly log: WriteStream;
  private readonly waiters: {
    match: (entry: Record<string, unknown>) => boolean;
    resolve: (entry: Record<string, unknown>) => void;
  }[] = [];
  private exit: PartExit | undefined;

  constructor(readonly options: DevPartOptions) {
    this.log = createWriteStream(options.logFile, { flags: 'w' });
    // The log file is a convenience: failing to write it must not stop the cluster.
    this.log.on('error', () => undefined);
    this.child = spawn(process.execPath, ['--import', PARENT_GUARD, options.entry], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const closed = new Promise<void>((resolve) => {
      let open = 2;
      const done = (): void => {
        if (--open === 0) resolve();
      };
      createInterface({ input: this.child.stdout! })
        .on('line', (line) => this.stdoutLine(line))
        .on('close', done);
      createInterface({ input: this.child.stderr! })
        .on('line', (line) => this.stderrLine(line))
        .on('close', done);
    });
    const exited = new Promise<PartExit>((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      // Spawning node itself failed (it always exists: it runs this process); reported as an exit.
      this.child.once('error', (error) => {
        this.stderrTail.push(error.message);
        resolve({ code: null, signal: null });
      });
    });
    // Resolves once its last line is shown and written, so that messages after it come after it.
    this.exited = exited.then(async (exit) => {
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      this.exit = exit;
      await new Promise<void>((resolve) => this.log.end(resolve));
      return exit;
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first JSON log line `match` accepts (from now on). */
  waitFor(match: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Sends `signal` unless it has exited. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      this.child.kill(signal);
    } catch {
      // Gone meanwhile.
    }
  }

  /**
   * SIGTERM (each app's clean shutdown), then SIGKILL if it has not exited after `graceMs`. Resolves
   * once it has exited.
   */
  async stop(graceMs: number): Promise<PartExit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private stdoutLine(line: string): void {
    this.log.write(`${line}\n`);
    this.options.show(
      formatPartLine(this.options.name, this.options.labelWidth, line, this.options.omitFields),
    );
    const entry = parseLogLine(line);
    if (entry === undefined) return;
    for (const waiter of [...this.waiters]) {
      if (!waiter.match(entry)) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(entry);
    }
  }

  private stderrLine(line: string): void {
    this.log.write(`${line}\n`);
    this.options.show(formatPartLine(this.options.name, this.options.labelWidth, line));
    this.stderrTail.push(line);
    if (this.stderrTail.length > 5) this.stderrTail.shift();
  }
}
