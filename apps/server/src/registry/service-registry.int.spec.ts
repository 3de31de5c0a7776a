import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadChecker } from '../load/load-checker';
import { buildThreadEntry } from '../testing/build-thread-entry';
import { ServiceRegistry, type ServiceCode } from './service-registry';

// Each module notes on the main thread's global that it was evaluated there.
const EVALUATED = '__lanewayEvaluatedHere';
// Out of heap, or (on a busy machine) stopped at the timeout while near the limit: both name the heap.
const HOG_MESSAGE = /^hog\.js: loading used .*64 MB.*\(LANEWAY_LOAD_MAX_HEAP_MB\)/;
const evaluated = (): string[] => ((globalThis as Record<string, unknown>)[EVALUATED] as string[] | undefined) ?? [];

const spec = (name: string, version: string, body: string, exported = [name]): ServiceCode => ({
  name,
  version,
  lane: 'network',
  path: `${name}.js`,
  code: `
(globalThis.${EVALUATED} ??= []).push('${version}');
const { defineService } = require('@laneway/sdk');
${body}
${exported.map((n, i) => `exports.s${i} = defineService({ name: '${n}', handle: () => '${version}' });`).join('\n')}
`,
});

describe('ServiceRegistry with a real load-check thread', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-registry-'));
  const workerPath = path.join(dir, 'load-check-worker.js');
  let checker: LoadChecker;

  beforeAll(async () => {
    await buildThreadEntry('load/load-check-worker.ts', workerPath);
    checker = new LoadChecker({ workerPath, timeoutMs: 1000, maxHeapMb: 64, logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await checker?.close();
    rmSync(dir, { recursive: true, force: true });
    delete (globalThis as Record<string, unknown>)[EVALUATED];
  });

  it('keeps serving the last good set when new code throws, recurses without end, loops or exhausts the heap, naming each service', async () => {
    const registry = new ServiceRegistry({ loadTimeoutMs: 1000, checker });
    const first = await registry.prepare({ revision: 1, full: true, removed: [], services: [spec('a', 'a1', '')] });
    expect(first.errors).toEqual([]);
    registry.commit(first);

    const started = performance.now();
    const bad = await registry.prepare({
      revision: 2,
      full: false,
      removed: [],
      services: [
        spec('a', 'a2', ''),
        spec('throws', 'throws1', 'throw new Error("no config");'),
        spec('recurses', 'recurses1', 'function f() { return f() + 1; }\nf();'),
        spec('loops', 'loops1', 'for (;;) {}'),
        // One file, two services: both named.
        { ...spec('hog', 'hog1', 'const kept = []; for (;;) kept.push(new Array(2_000_000).fill(1));', ['hog', 'hog.too']) },
        { ...spec('hog', 'hog1', '', ['hog', 'hog.too']), name: 'hog.too' },
        spec('b', 'b1', ''),
      ],
    });
    expect(bad.errors).toEqual([
      { service: 'throws', message: 'throws.js: loading failed: no config' },
      { service: 'recurses', message: 'recurses.js: loading failed: Maximum call stack size exceeded' },
      { service: 'loops', message: 'loops.js: top-level code ran past 1000 ms (LANEWAY_LOAD_TIMEOUT_MS)' },
      { service: 'hog', message: expect.stringMatching(HOG_MESSAGE) },
      { service: 'hog.too', message: expect.stringMatching(HOG_MESSAGE) },
    ]);
    expect(performance.now() - started).toBeLessThan(5000);
    // Only what passed the check was evaluated on this thread, once per version.
    expect(evaluated()).toEqual(['a1', 'a2', 'b1']);
    // Nothing committed: a1 still serves at revision 1.
    expect(registry.revision).toBe(1);
    expect(await registry.get('a')!.definition!.handle(null, {} as never)).toBe('a1');

    // A later good push applies, reusing what already loaded.
    const good = await registry.prepare({ revision: 3, full: false, removed: [], services: [spec('a', 'a2', ''), spec('b', 'b1', ''), spec('c', 'c1', '')] });
    expect(good.errors).toEqual([]);
    registry.commit(good);
    expect(registry.revision).toBe(3);
    expect(await registry.get('a')!.definition!.handle(null, {} as never)).toBe('a2');
    expect(await registry.get('c')!.definition!.handle(null, {} as never)).toBe('c1');
    expect(evaluated()).toEqual(['a1', 'a2', 'b1', 'c1']);
  });

  it('loads a large push through the pipeline, chunk by chunk', async () => {
    const registry = new ServiceRegistry({ loadTimeoutMs: 1000, checker });
    const services = Array.from({ length: 450 }, (_, i) => spec(`many.s${i}`, `m${i}`, ''));
    const prepared = await registry.prepare({ revision: 1, full: true, removed: [], services });
    expect(prepared.errors).toEqual([]);
    registry.commit(prepared);
    expect(registry.size).toBe(450);
    expect(await registry.get('many.s449')!.definition!.handle(null, {} as never)).toBe('m449');
  });
});
