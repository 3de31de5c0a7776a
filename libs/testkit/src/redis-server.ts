import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, stopChild } from './processes';

/** A redis-server of a test's own (another site's Redis), on a free loopback port, keeping nothing on disk. */
export interface OwnRedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts redis-server on `port` (default: a free one) and resolves once it answers PING. */
export async function startRedisServer(port?: number): Promise<OwnRedisServer> {
  const p = port ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const until = Date.now() + 10_000;
  for (;;) {
    if (await answersPing(p)) return { port: p, url: `redis://127.0.0.1:${p}`, child, stop: () => stopChild(child) };
    if (child.exitCode !== null || Date.now() > until) {
      await stopChild(child);
      throw new Error(`redis-server on port ${p} did not start (exit ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    probe.stdout.on('data', (d: Buffer) => (out += d.toString()));
    probe.on('close', () => resolve(out.trim() === 'PONG'));
    probe.on('error', () => resolve(false));
  });
}
