import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceCode } from '../registry/service-registry';
import { buildThreadEntry } from '../testing/build-thread-entry';
import { CpuPool, type CpuPoolOptions } from './cpu-pool';

const services: ServiceCode[] = [
  {
    name: 'cpu.sum',
    version: 'v1',
    lane: 'cpu',
    path: 'sum.js',
    code: `
const { defineService } = require('@laneway/sdk');
exports.sum = defineService({ name: 'cpu.sum', lane: 'cpu', handle: (i) => ({ sum: i.a + i.b }) });
exports.spin = defineService({ name: 'cpu.spin', lane: 'cpu', handle: () => { for (;;) {} } });
exports.nested = defineService({ name: 'cpu.nested', lane: 'cpu', handle: async (i, ctx) => ({ inner: await ctx.invoke('net.x', i) }) });
`,
  },
];
services.push({ ...services[0]!, name: 'cpu.spin' }, { ...services[0]!, name: 'cpu.nested' });

describe('CpuPool with real worker threads', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-cpu-pool-'));
  const workerPath = path.join(dir, 'cpu-worker.js');
  let pool: CpuPool;
  const invoked: unknown[] = [];

  beforeAll(async () => {
    await buildThreadEntry('cpu/cpu-worker.ts', workerPath);
    pool = new CpuPool({
      size: 2,
      workerPath,
      threadData: { cluster: 'c', server: 's' },
      logger: pino({ level: 'silent' }),
      onInvoke: async (service, input) => {
        invoked.push([service, input]);
        return { from: service };
      },
    });
    await pool.start();
    expect(await pool.apply(services)).toEqual([]);
  });

  /** A started pool of its own, for a test that needs another size or option. */
  const startPool = async (
    options: Pick<CpuPoolOptions, 'size' | 'recycleAboveHeapMb' | 'loadTimeoutMs' | 'sched'> & { logger?: CpuPoolOptions['logger'] },
  ): Promise<CpuPool> => {
    const own = new CpuPool({
      logger: pino({ level: 'silent' }),
      ...options,
      workerPath,
      threadData: { cluster: 'c', server: 's' },
      onInvoke: async () => null,
    });
    await own.start();
    return own;
  };

  afterAll(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a service in a thread and returns its output', async () => {
    expect(await pool.run('cpu.sum', { a: 2, b: 3 }, 'i1', Date.now() + 5000)).toEqual({
      ok: true,
      output: { sum: 5 },
      version: 'v1',
    });
  });

  it('runs its threads at nice 19 while the main thread stays at normal priority', () => {
    const nices = readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Field 19 (nice), counted after the ')' that closes the command name.
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });
    expect(nices.filter((n) => n === 19).length).toBeGreaterThanOrEqual(2);
    expect(os.getPriority(process.pid)).toBe(0);
  });

  /** A thread's fields from /proc/self/task/TID/stat, counted from 1 like proc(5) (from 3 after the name). */
  const statOf = (tid: number): ((field: number) => number) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (field) => Number(fields[field - 3]);
  };
  // Field 41 is the scheduling policy (0 SCHED_OTHER, 5 SCHED_IDLE), field 19 the nice value.
  const SCHED_OTHER = 0;
  const SCHED_IDLE = 5;
  const policyOf = (tid: number): number => statOf(tid)(41);
  const niceOf = (tid: number): number => statOf(tid)(19);

  it('puts its threads under SCHED_IDLE (keeping nice 19) by default, the main thread staying SCHED_OTHER', async () => {
    const tids = pool.threadIds;
    expect(tids).toHaveLength(2);
    expect(tids).not.toContain(process.pid);
    // chrt runs asynchronously, after the thread started.
    await until(() => tids.every((tid) => policyOf(tid) === SCHED_IDLE), 5000);
    expect(tids.map(niceOf)).toEqual([19, 19]);
    expect(policyOf(process.pid)).toBe(SCHED_OTHER);
    expect(await pool.run('cpu.sum', { a: 1, b: 1 }, 'idle', Date.now() + 5000)).toMatchObject({ ok: true, output: { sum: 2 } });
  });

  it('leaves its threads at nice 19 under SCHED_OTHER with the nice setting', async () => {
    const own = await startPool({ size: 2, sched: 'nice' });
    try {
      const tids = own.threadIds;
      expect(tids).toHaveLength(2);
      // Long enough for a chrt started with the thread to have run (it takes a few ms).
      await new Promise((r) => setTimeout(r, 1000));
      expect(tids.map(policyOf)).toEqual([SCHED_OTHER, SCHED_OTHER]);
      expect(tids.map(niceOf)).toEqual([19, 19]);
    } finally {
      await own.close();
    }
  });

  it('warns once and keeps its threads at nice 19 when chrt cannot be run', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    // A thread takes its environment from process.env when it is started: no chrt on this PATH.
    const empty = mkdtempSync(path.join(os.tmpdir(), 'laneway-no-chrt-'));
    const saved = process.env['PATH'];
    process.env['PATH'] = empty;
    let own: CpuPool | undefined;
    try {
      own = await startPool({ size: 2, logger });
    } finally {
      process.env['PATH'] = saved;
      rmSync(empty, { recursive: true, force: true });
    }
    try {
      const failures = (): typeof lines => lines.filter((l) => /SCHED_IDLE/.test(l.msg));
      await until(() => failures().length === 2, 5000);
      // pino levels: 40 warn, 20 debug.
      expect(failures().map((l) => l.level)).toEqual([40, 20]);
      expect(failures()[0]!.msg).toMatch(/they run at nice 19 only/);
      const tids = own.threadIds;
      expect(tids.map(policyOf)).toEqual([SCHED_OTHER, SCHED_OTHER]);
      expect(tids.map(niceOf)).toEqual([19, 19]);
      expect(await own.apply(services)).toEqual([]);
      expect(await own.run('cpu.sum', { a: 2, b: 2 }, 'no-chrt', Date.now() + 10_000)).toMatchObject({ ok: true, output: { sum: 4 } });
    } finally {
      await own.close();
    }
  });

  it('terminates a runaway job at its deadline and keeps serving', async () => {
    const started = Date.now();
    const result = await pool.run('cpu.spin', null, 'i2', Date.now() + 300);
    expect(result).toMatchObject({ ok: false, code: 'DEADLINE_EXCEEDED' });
    expect(result.ok ? '' : result.message).toMatch(/service 'cpu\.spin' ran past its deadline of \d+ ms/);
    expect(Date.now() - started).toBeLessThan(2000);
    // Both threads (including the replacement) answer again.
    const after = await Promise.all([1, 2, 3, 4].map((n) => pool.run('cpu.sum', { a: n, b: n }, `i${n}`, Date.now() + 5000)));
    expect(after.map((r) => (r.ok ? r.output : r))).toEqual([{ sum: 2 }, { sum: 4 }, { sum: 6 }, { sum: 8 }]);
  });

  const until = async (check: () => boolean, ms = 5000): Promise<void> => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('does not wait for busy threads when a push leaves the CPU-lane services as they are', async () => {
    // Both threads spin until their deadline; a thread reads its messages only between jobs.
    const spinning = [1, 2].map((n) => pool.run('cpu.spin', null, `busy${n}`, Date.now() + 1500));
    await until(() => pool.busyThreads === 2);
    const started = performance.now();
    expect(await pool.apply(services.map((s) => ({ ...s })))).toEqual([]);
    expect(performance.now() - started).toBeLessThan(500);
    const results = await Promise.all(spinning);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
    expect(await pool.run('cpu.sum', { a: 4, b: 5 }, 'after-busy', Date.now() + 5000)).toMatchObject({ ok: true, output: { sum: 9 } });
  });

  const busy = (ms: number, answer: string, version: string): ServiceCode => ({
    name: 'cpu.busy',
    version,
    lane: 'cpu',
    path: `busy-${version}.js`,
    code: `
const { defineService } = require('@laneway/sdk');
exports.busy = defineService({ name: 'cpu.busy', lane: 'cpu', handle: (i) => { const end = Date.now() + (i?.ms ?? ${ms}); while (Date.now() < end) {} return '${answer}'; } });
`,
  });

  it('loads a changed set while every thread is busy in one extra thread, then shrinks back as the busy jobs end', async () => {
    expect(await pool.apply([...services, busy(0, 'one', 'b1')])).toEqual([]);
    // Both threads run v1 for 3 s; a thread reads no message meanwhile. (Threads replaced by an
    // earlier test may still be starting: wait until both jobs run.)
    const running = [1, 2].map((n) => pool.run('cpu.busy', { ms: 3000 }, `long${n}`, Date.now() + 20_000));
    await until(() => pool.busyThreads === 2);
    const started = performance.now();
    expect(await pool.apply([...services, busy(0, 'two', 'b2')])).toEqual([]);
    // Well under the 3 s the busy jobs run (a new thread at nice 19 starts slowly on a busy machine).
    expect(performance.now() - started).toBeLessThan(2000);
    expect(pool.threads).toBe(3);
    // The new version serves at once, on the extra thread.
    expect(await pool.run('cpu.busy', { ms: 0 }, 'new1', Date.now() + 5000)).toEqual({ ok: true, output: 'two', version: 'b2' });
    // The busy jobs end on the version they started with.
    expect(await Promise.all(running)).toEqual([
      { ok: true, output: 'one', version: 'b1' },
      { ok: true, output: 'one', version: 'b1' },
    ]);
    await until(() => pool.threads === 2);
    const after = await Promise.all([1, 2, 3, 4].map((n) => pool.run('cpu.busy', { ms: 50 }, `after${n}`, Date.now() + 5000)));
    expect(after).toEqual(Array.from({ length: 4 }, () => ({ ok: true, output: 'two', version: 'b2' })));
  });

  it('rejects a broken set while every thread is busy without waiting for them, and keeps the previous set', async () => {
    const running = [1, 2].map((n) => pool.run('cpu.busy', { ms: 3000 }, `long-b${n}`, Date.now() + 20_000));
    await until(() => pool.busyThreads === 2);
    const broken: ServiceCode = { name: 'cpu.broken', version: 'x1', lane: 'cpu', path: 'broken.js', code: 'throw new Error("missing model")' };
    const started = performance.now();
    const errors = await pool.apply([...services, busy(0, 'three', 'b3'), broken]);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(errors).toEqual([{ service: 'cpu.broken', message: 'broken.js: loading failed: missing model' }]);
    expect((await Promise.all(running)).map((r) => r.ok && r.output)).toEqual(['two', 'two']);
    await until(() => pool.threads === 2);
    expect(await pool.run('cpu.busy', { ms: 0 }, 'kept', Date.now() + 5000)).toEqual({ ok: true, output: 'two', version: 'b2' });
    expect(await pool.run('cpu.broken', null, 'gone', Date.now() + 5000)).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });

  it('routes ctx.invoke from a thread to the main thread', async () => {
    const result = await pool.run('cpu.nested', { q: 1 }, 'i5', Date.now() + 5000);
    expect(result).toMatchObject({ ok: true, output: { inner: { from: 'net.x' } } });
    expect(invoked).toContainEqual(['net.x', { q: 1 }]);
  });

  it('keeps the previous services when a new set fails to load in the threads', async () => {
    const broken: ServiceCode = { name: 'cpu.bad', version: 'v9', lane: 'cpu', path: 'bad.js', code: 'throw new Error("no model file")' };
    const errors = await pool.apply([...services, broken]);
    expect(errors).toEqual([{ service: 'cpu.bad', message: 'bad.js: loading failed: no model file' }]);
    expect(await pool.run('cpu.sum', { a: 1, b: 1 }, 'i6', Date.now() + 5000)).toMatchObject({ ok: true, output: { sum: 2 } });
    expect(await pool.run('cpu.bad', null, 'i7', Date.now() + 5000)).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });

  it('reports the JSON Schemas of the committed CPU-lane services, converted in the threads that load them', async () => {
    // A file with a zod-typed service and one without schemas; `note` only in version o2, none in o3.
    const orders = (version: string, schema: 'zod' | 'none', extra = ''): ServiceCode[] => {
      const order: ServiceCode = {
        name: 'cpu.order',
        version,
        lane: 'cpu',
        path: `order-${version}.js`,
        code: `
const { defineService } = require('@laneway/sdk');
const { z } = require('zod');
exports.order = defineService({
  name: 'cpu.order',
  lane: 'cpu',
  ${schema === 'zod' ? `input: z.object({ customerId: z.string(), quantity: z.number().int().min(1)${extra} }), output: z.object({ orderId: z.string() }),` : ''}
  handle: (i) => ({ orderId: 'o-' + i.customerId }),
});
exports.plain = defineService({ name: 'cpu.plain', lane: 'cpu', handle: (i) => { const end = Date.now() + (i?.ms ?? 0); while (Date.now() < end) {} return 1; } });
`,
      };
      return [order, { ...order, name: 'cpu.plain' }];
    };
    const own = await startPool({ size: 2 });
    try {
      expect(own.schemasOf('cpu.order')).toEqual({});
      expect(await own.apply(orders('o1', 'zod'))).toEqual([]);
      const first = own.schemasOf('cpu.order');
      expect(first.input).toEqual({
        type: 'object',
        properties: { customerId: { type: 'string' }, quantity: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
        required: ['customerId', 'quantity'],
      });
      expect(first.output).toMatchObject({ type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] });
      expect(own.schemasOf('cpu.plain')).toEqual({});
      expect(own.schemasOf('cpu.nowhere')).toEqual({});
      // The threads validate with the same schema.
      expect(await own.run('cpu.order', { customerId: 'c1', quantity: 0 }, 'bad', Date.now() + 10_000)).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });

      // A rejected set changes nothing the pool reports...
      const broken: ServiceCode = { name: 'cpu.broken', version: 'x2', lane: 'cpu', path: 'broken.js', code: 'throw new Error("no model")' };
      const withNote = orders('o2', 'zod', ', note: z.string().optional()');
      expect(await own.apply([...withNote, broken])).toHaveLength(1);
      expect(own.schemasOf('cpu.order')).toEqual(first);
      // ...and when the same version comes again without the broken file, the threads (which kept the
      // module they evaluated) do not convert it again: the pool kept what they sent the first time.
      expect(await own.apply(withNote)).toEqual([]);
      expect(own.schemasOf('cpu.order').input?.['properties']).toHaveProperty('note', { type: 'string' });
      expect(await own.run('cpu.order', { customerId: 'c2', quantity: 1 }, 'ok', Date.now() + 10_000)).toMatchObject({ ok: true, output: { orderId: 'o-c2' }, version: 'o2' });

      // A version without schemas has none; one loaded by the extra thread (both threads busy) has its own.
      expect(await own.apply(orders('o3', 'none'))).toEqual([]);
      expect(own.schemasOf('cpu.order')).toEqual({});
      const running = [1, 2].map((n) => own.run('cpu.plain', { ms: 2000 }, `busy${n}`, Date.now() + 20_000));
      await until(() => own.busyThreads === 2);
      expect(await own.apply(orders('o4', 'zod'))).toEqual([]);
      expect(own.threads).toBe(3);
      expect(own.schemasOf('cpu.order').input).toEqual(first.input);
      expect((await Promise.all(running)).map((r) => r.ok)).toEqual([true, true]);
    } finally {
      await own.close();
    }
  });

  it('gives no job to a thread that finished loading the previous set while a new set was loading', async () => {
    // Both sets take a while to load (top-level work); the new one longer than the old one.
    const slowSet = (version: string, loadMs: number): ServiceCode[] => {
      const which: ServiceCode = {
        name: 'cpu.which',
        version,
        lane: 'cpu',
        path: `which-${version}.js`,
        code: `
const { defineService } = require('@laneway/sdk');
const end = Date.now() + ${loadMs};
while (Date.now() < end) {}
exports.which = defineService({ name: 'cpu.which', lane: 'cpu', handle: () => '${version}' });
exports.spin = defineService({ name: 'cpu.spin', lane: 'cpu', handle: () => { for (;;) {} } });
`,
      };
      return [which, { ...which, name: 'cpu.spin' }];
    };
    const fresh = await startPool({ size: 2 });
    try {
      expect(await fresh.apply(slowSet('a', 300))).toEqual([]);
      // A runaway job gets its thread replaced; the replacement loads set a (300 ms)...
      expect(await fresh.run('cpu.spin', null, 'r1', Date.now() + 50)).toMatchObject({ ok: false, code: 'DEADLINE_EXCEEDED' });
      // ...while the other thread loads set b (800 ms): the replacement is ready with a before b commits.
      expect(await fresh.apply(slowSet('b', 800))).toEqual([]);
      const answers = await Promise.all([1, 2, 3, 4].map((n) => fresh.run('cpu.which', null, `w${n}`, Date.now() + 10_000)));
      expect(answers).toEqual(Array.from({ length: 4 }, () => ({ ok: true, output: 'b', version: 'b' })));
      expect(fresh.threads).toBe(2);
    } finally {
      await fresh.close();
    }
  });

  it('replaces a thread whose heap grew past the limit, between jobs', async () => {
    const hoarder: ServiceCode = {
      name: 'cpu.hoard',
      version: 'h1',
      lane: 'cpu',
      path: 'hoard.js',
      code: `
const { defineService } = require('@laneway/sdk');
const kept = [];
exports.default = defineService({ name: 'cpu.hoard', lane: 'cpu', handle: (i) => {
  for (let n = 0; n < i.mb; n++) kept.push(new Array(128 * 1024).fill(n));
  return { held: kept.length };
} });`,
    };
    const small = await startPool({ size: 1, recycleAboveHeapMb: 24 });
    try {
      expect(await small.apply([hoarder])).toEqual([]);
      // ~1 MB per step on a 64-bit heap: 8 MB held stays well under the limit (the thread's own heap,
      // some MB and more under load before a GC, must fit beside it), the state is kept.
      expect(await small.run('cpu.hoard', { mb: 4 }, 'h1', Date.now() + 20_000)).toMatchObject({ ok: true, output: { held: 4 } });
      expect(await small.run('cpu.hoard', { mb: 4 }, 'h2', Date.now() + 20_000)).toMatchObject({ ok: true, output: { held: 8 } });
      // Past the limit whatever the rest of the heap holds: the job still completes, then its thread
      // is replaced, so the heap starts over.
      expect(await small.run('cpu.hoard', { mb: 20 }, 'h3', Date.now() + 20_000)).toMatchObject({ ok: true, output: { held: 28 } });
      expect(await small.run('cpu.hoard', { mb: 1 }, 'h4', Date.now() + 20_000)).toMatchObject({ ok: true, output: { held: 1 } });
    } finally {
      await small.close();
    }
  });

  const failing = (name: string, body: string): ServiceCode => ({
    name,
    version: `${name}-1`,
    lane: 'cpu',
    path: `${name}.js`,
    code: `${body}\nexports.default = require('@laneway/sdk').defineService({ name: '${name}', lane: 'cpu', handle: () => 1 });`,
  });

  it('names the service whose top level throws, recurses without end, loops or ends its thread, and keeps the previous set', async () => {
    // Hard heap limit 64 MB (twice the recycling limit).
    const own = await startPool({ size: 2, recycleAboveHeapMb: 32, loadTimeoutMs: 1000 });
    try {
      expect(await own.apply(services)).toEqual([]);
      const cases: [ServiceCode, string | RegExp][] = [
        [failing('cpu.throws', 'throw new Error("no model")'), 'cpu.throws.js: loading failed: no model'],
        [failing('cpu.recurses', 'function f() { return f() + 1; }\nf();'), 'cpu.recurses.js: loading failed: Maximum call stack size exceeded'],
        [failing('cpu.loops', 'for (;;) {}'), 'cpu.loops.js: top-level code ran past 1000 ms (LANEWAY_LOAD_TIMEOUT_MS)'],
        [failing('cpu.exits', 'process.exit(3)'), 'cpu.exits.js: loading ended its thread (exit code 3)'],
      ];
      for (const [bad, message] of cases) {
        const errors = await own.apply([...services, bad]);
        expect(errors).toEqual([{ service: bad.name, message: typeof message === 'string' ? message : expect.stringMatching(message) }]);
        expect(await own.run('cpu.sum', { a: 1, b: 2 }, `after-${bad.name}`, Date.now() + 10_000)).toMatchObject({ ok: true, output: { sum: 3 } });
        expect(await own.run(bad.name, null, `gone-${bad.name}`, Date.now() + 10_000)).toMatchObject({ ok: false, code: 'NOT_FOUND' });
      }
      await until(() => own.threads === 2);
      // A later good set applies.
      expect(await own.apply([...services, busy(0, 'fine', 'f1')])).toEqual([]);
      expect(await own.run('cpu.busy', { ms: 0 }, 'fine', Date.now() + 10_000)).toEqual({ ok: true, output: 'fine', version: 'f1' });
    } finally {
      await own.close();
    }
  });


  it('names the service whose top level exhausts the heap, and keeps the previous set', async () => {
    // Its own pool with a long load timeout: the thread runs at nice 19, and on a loaded machine (CI)
    // a hog once got too little CPU to reach its heap limit within a 1 s timeout.
    const own = await startPool({ size: 1, recycleAboveHeapMb: 32, loadTimeoutMs: 30_000 });
    try {
      expect(await own.apply(services)).toEqual([]);
      const hog = failing('cpu.hog', 'const kept = []; for (;;) kept.push(new Array(2_000_000).fill(1));');
      expect(await own.apply([...services, hog])).toEqual([
        { service: 'cpu.hog', message: expect.stringMatching(/^cpu\.hog\.js: loading used .*64 MB.* \(twice LANEWAY_CPU_THREAD_MAX_HEAP_MB\)/) },
      ]);
      expect(await own.run('cpu.sum', { a: 1, b: 2 }, 'after-hog', Date.now() + 20_000)).toMatchObject({ ok: true, output: { sum: 3 } });
      expect(await own.run('cpu.hog', null, 'gone-hog', Date.now() + 20_000)).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    } finally {
      await own.close();
    }
  });
  it('terminates and replaces a thread stuck loading past the timeout in a blocking call', async () => {
    const own = await startPool({ size: 2, loadTimeoutMs: 300 });
    try {
      expect(await own.apply(services)).toEqual([]);
      const started = performance.now();
      const errors = await own.apply([...services, failing('cpu.blocks', "require('node:child_process').execSync('sleep 5')")]);
      expect(errors).toEqual([
        {
          service: 'cpu.blocks',
          message: 'cpu.blocks.js: top-level code ran past 300 ms (LANEWAY_LOAD_TIMEOUT_MS) and did not stop; its thread was terminated',
        },
      ]);
      // Between one and two periods of timeout + 1 s, well before the call returns.
      expect(performance.now() - started).toBeLessThan(4000);
      // Replacements serve the previous set before the stuck threads are gone.
      expect(await own.run('cpu.sum', { a: 2, b: 2 }, 'after-stuck', Date.now() + 10_000)).toMatchObject({ ok: true, output: { sum: 4 } });
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await own.close();
    }
  });
});
