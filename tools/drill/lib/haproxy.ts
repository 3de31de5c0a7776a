import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, runCli, stopChild } from '@laneway/testkit';
import type { Cleanup } from './cleanup';

/** Debian's real haproxy on a configuration the built CLI wrote (`laneway lb haproxy --out`). */
export class Haproxy {
  /** Its last 200 output lines. */
  readonly output: string[] = [];
  /** Each server's latest state from HAProxy's "Server laneway_servers/NAME is UP|DOWN" lines. */
  readonly states = new Map<string, 'UP' | 'DOWN'>();
  /** Its first 50 request log lines (httplog) with a status other than 200 or a termination state other than `----`. */
  readonly abnormal: string[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      const lines = chunk.toString('utf8').split('\n').filter(Boolean);
      this.output.push(...lines);
      this.output.splice(0, Math.max(0, this.output.length - 200));
      for (const line of lines) {
        const m = / Server laneway_servers\/(\S+) is (UP|DOWN)\b/.exec(line);
        if (m) this.states.set(m[1]!, m[2] as 'UP' | 'DOWN');
        const request = / (-?\d+) (\d+) \S+ \S+ ([A-Za-z-]{4}) /.exec(line);
        if (request && (request[1] !== '200' || request[3] !== '----') && this.abnormal.length < 50) this.abnormal.push(line);
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /**
   * Writes the configuration from the cluster's live state and starts haproxy on it. `lbArgs`: more
   * arguments for `laneway lb haproxy` (clusters, `--site CLUSTER@ADDR --site-token-file FILE`).
   */
  static async start(dir: string, cliEnv: Record<string, string>, cleanup: Cleanup, lbArgs: string[] = []): Promise<Haproxy> {
    const port = await freePort();
    const file = path.join(dir, 'haproxy.cfg');
    const args = ['lb', 'haproxy', ...lbArgs, '--out', file, '--bind', `127.0.0.1:${port}`, '--state-file', path.join(dir, 'server-state'), '--stats-socket', path.join(dir, 'admin.sock')];
    const written = await runCli(args, cliEnv);
    if (written.code !== 0) throw new Error(`laneway lb haproxy failed (${written.code}): ${written.stderr}`);
    const child = spawn('haproxy', ['-db', '-f', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const haproxy = new Haproxy(port, child);
    cleanup.add('stop haproxy', () => haproxy.stop());
    // Listening once a request gets any HTTP answer.
    const until = Date.now() + 5_000;
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.status, () => 0);
      if (status !== 0) break;
      if (Date.now() > until) throw new Error(`haproxy did not listen on ${port} within 5 s:\n${haproxy.output.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return haproxy;
  }

  /** Resolves once HAProxy has reported `server` in `state` (a server it never reported counts as UP). */
  async waitFor(server: string, state: 'UP' | 'DOWN', timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.states.get(server) ?? 'UP') !== state) {
      if (Date.now() > until) throw new Error(`haproxy did not report ${server} ${state} within ${timeoutMs} ms:\n${this.output.slice(-20).join('\n')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
