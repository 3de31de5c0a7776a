import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@laneway/testkit';
import { Redis } from 'ioredis';
import type { Cleanup } from './cleanup';
import { sleep } from './load';

/** A Redis of the drill's own (AOF on, no RDB snapshots) on a free port and in a temp dir, restartable there. */
export class OwnRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(cleanup: Cleanup): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), mkdtempSync(path.join(os.tmpdir(), 'laneway-drill-redis-')));
    cleanup.add('remove the Redis dir', () => rmSync(redis.dir, { recursive: true, force: true }));
    cleanup.add('stop the Redis', () => redis.kill());
    await redis.startAgain();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on the same port and dir (it loads its AOF) and waits until it answers PING. */
  async startAgain(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', this.dir], {
      stdio: 'ignore',
    });
    this.child = child;
    const until = Date.now() + 10_000;
    for (;;) {
      const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      const pong = await client.connect().then(() => client.ping(), () => '');
      client.disconnect();
      if (pong === 'PONG') return;
      if (child.exitCode !== null || Date.now() > until) throw new Error(`redis-server on ${this.port} did not answer PING (exit ${child.exitCode})`);
      await sleep(50);
    }
  }

  /** SHUTDOWN (it writes the AOF to disk and exits); resolves once the process is gone. */
  async shutdown(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const client = new Redis(this.url, { maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    await client.shutdown().catch(() => undefined);
    client.disconnect();
    await exited;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
