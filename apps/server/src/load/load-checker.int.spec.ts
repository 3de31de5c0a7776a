import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildThreadEntry } from '../testing/build-thread-entry';
import { LoadChecker, type CheckVerdict, type LoadCheckerOptions } from './load-checker';

const good = (name: string): string => `
const { defineService } = require('@laneway/sdk');
exports.default = defineService({ name: '${name}', handle: () => '${name}' });
`;
const HOG = 'const kept = []; for (;;) kept.push(new Array(2_000_000).fill(1));';

describe('LoadChecker with a real worker thread', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-load-checker-'));
  const workerPath = path.join(dir, 'load-check-worker.js');
  const checkers: LoadChecker[] = [];
  const logs: { msg: string }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(JSON.parse(chunk.toString()) as { msg: string });
        done();
      },
    }),
  );

  beforeAll(async () => {
    await buildThreadEntry('load/load-check-worker.ts', workerPath);
  });

  afterAll(async () => {
    await Promise.all(checkers.map((c) => c.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const checker = (options: Partial<LoadCheckerOptions> = {}): LoadChecker => {
    const made = new LoadChecker({ workerPath, timeoutMs: 200, maxHeapMb: 64, logger, ...options });
    checkers.push(made);
    return made;
  };

  /** Every verdict of one check, by index; fails if a module gets none or two. */
  const check = async (target: LoadChecker, sources: { filename: string; code: string }[]): Promise<(string | undefined)[]> => {
    const seen: CheckVerdict[] = [];
    await target.check(sources, (verdicts) => seen.push(...verdicts));
    expect(seen.map((v) => v.index).sort((a, b) => a - b)).toEqual(sources.map((_, i) => i));
    return sources.map((_, i) => seen.find((v) => v.index === i)!.failure);
  };

  it('names each module that throws, recurses without end, loops, exhausts the heap or ends its thread, and passes the rest', async () => {
    // A heap blow-up slows down in GC near the limit: the timeout leaves it time to reach 64 MB.
    const target = checker({ chunk: 3, timeoutMs: 1500 });
    const started = performance.now();
    const verdicts = await check(target, [
      { filename: 'a.js', code: good('a') },
      { filename: 'throws.js', code: 'throw new Error("no config")' },
      { filename: 'recurses.js', code: 'function f() { return f() + 1; }\nf();' },
      { filename: 'b.js', code: good('b') },
      // In the same chunk as the heap blow-up: its failure is found again on the next thread.
      { filename: 'loops.js', code: 'for (;;) {}' },
      { filename: 'hog.js', code: HOG },
      { filename: 'c.js', code: good('c') },
      { filename: 'exits.js', code: 'process.exit(3)' },
      { filename: 'd.js', code: good('d') },
    ]);
    expect(verdicts).toEqual([
      undefined,
      'throws.js: loading failed: no config',
      'recurses.js: loading failed: Maximum call stack size exceeded',
      undefined,
      'loops.js: top-level code ran past 1500 ms (LANEWAY_LOAD_TIMEOUT_MS)',
      // Out of heap, or (on a busy machine) stopped at the timeout while near the limit: both name the heap.
      expect.stringMatching(/^hog\.js: loading used .*64 MB.*\(LANEWAY_LOAD_MAX_HEAP_MB\)/),
      undefined,
      'exits.js: loading ended its thread (exit code 3)',
      undefined,
    ]);
    expect(performance.now() - started).toBeLessThan(6000);
    // A new thread takes the next check.
    expect(await check(target, [{ filename: 'e.js', code: good('e') }])).toEqual([undefined]);
  });

  it('terminates a thread stuck in a blocking call past the timeout and checks the rest on a new thread', async () => {
    const target = checker();
    const started = performance.now();
    const verdicts = await check(target, [
      { filename: 'a.js', code: good('a') },
      { filename: 'blocks.js', code: `require('node:child_process').execSync('sleep 6');\n${good('blocks')}` },
      { filename: 'b.js', code: good('b') },
    ]);
    expect(verdicts).toEqual([
      undefined,
      'blocks.js: top-level code ran past 200 ms (LANEWAY_LOAD_TIMEOUT_MS) and did not stop; its thread was terminated',
      undefined,
    ]);
    // Found between one and two periods of timeout + 1 s, well before the call returns.
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('replaces its thread when checked code leaves timers running in it', async () => {
    const target = checker();
    expect(await check(target, [{ filename: 'poller.js', code: `setInterval(() => {}, 1000);\n${good('poller')}` }])).toEqual([undefined]);
    expect(logs.map((l) => l.msg)).toContain('replacing the load-check thread after a check');
    expect(await check(target, [{ filename: 'a.js', code: good('a') }])).toEqual([undefined]);
  });

  it('fails every module, naming why, when its thread cannot even start', async () => {
    const target = checker({ workerPath: path.join(dir, 'missing.js') });
    const verdicts = await check(target, [
      { filename: 'a.js', code: good('a') },
      { filename: 'b.js', code: good('b') },
    ]);
    expect(verdicts).toEqual([
      expect.stringMatching(/^a\.js: could not be checked before loading: the load-check thread exited \(code 1: Cannot find module/),
      expect.stringMatching(/^b\.js: could not be checked before loading: the load-check thread exited \(code 1: Cannot find module/),
    ]);
  });
});
