import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { compileWorkerBundle } from '../testing/compile-worker-bundle';
import { CompilerPool } from './compiler-pool';
import { ValidatedFiles } from './validated-files';

const file = (path: string, name: string, answer: string, lane = 'network') => ({
  path,
  content: `import { defineService } from '@laneway/sdk';
export default defineService({ name: '${name}', lane: '${lane}', handle: (): string => '${answer}' });
`,
});

async function invalid(promise: Promise<unknown>): Promise<InvalidArgumentError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidArgumentError);
  return err as InvalidArgumentError;
}

describe('ValidatedFiles', () => {
  let compiler: CompilerPool;
  beforeAll(async () => {
    compiler = new CompilerPool({ workerPath: await compileWorkerBundle(), size: 1, maxHeapMb: 256, loadTimeoutMs: 2000, logger: pino({ level: 'silent' }) });
    await compiler.start();
  });
  afterAll(() => compiler?.close());

  it('compiles and inspects only the files it has not seen with that path and content', async () => {
    const cache = new ValidatedFiles(compiler);
    const a = file('svc/a.ts', 'cache.a', 'a1');
    const b = file('svc/b.ts', 'cache.b', 'b1', 'cpu');

    const first = await cache.validate([a, b]);
    expect(first.compiledFiles).toBe(2);
    expect(first.services.map((s) => [s.name, s.lane, s.path])).toEqual([
      ['cache.a', 'network', 'svc/a.ts'],
      ['cache.b', 'cpu', 'svc/b.ts'],
    ]);

    const again = await cache.validate([a, b]);
    expect(again.compiledFiles).toBe(0);
    expect(again.services).toEqual(first.services);

    const changed = await cache.validate([a, file('svc/b.ts', 'cache.b', 'b2', 'cpu')]);
    expect(changed.compiledFiles).toBe(1);
    expect(changed.services[0]).toEqual(first.services[0]);
    expect(changed.services[1]!.version).not.toBe(first.services[1]!.version);
    expect(changed.services[1]!.code).toContain("'b2'");
  });

  it('treats the same content under another path as a new file', async () => {
    const cache = new ValidatedFiles(compiler);
    await cache.validate([file('svc/a.ts', 'cache.a', 'a1')]);
    const moved = await cache.validate([{ ...file('svc/a.ts', 'cache.a', 'a1'), path: 'svc/moved.ts' }]);
    expect(moved.compiledFiles).toBe(1);
    expect(moved.services[0]!.path).toBe('svc/moved.ts');
  });

  it('checks names across remembered and new files, and fails a bad file without forgetting the good ones', async () => {
    const cache = new ValidatedFiles(compiler);
    const a = file('svc/a.ts', 'cache.a', 'a1');
    await cache.validate([a]);

    const twice = await invalid(cache.validate([a, file('svc/other.ts', 'cache.a', 'x')]));
    expect(twice.message).toBe("service 'cache.a' is defined twice, in svc/a.ts and svc/other.ts: service names must be unique");

    const broken = await invalid(cache.validate([a, { path: 'svc/broken.ts', content: 'export const = ;' }]));
    expect(broken.message).toContain('svc/broken.ts');

    const after = await cache.validate([a]);
    expect(after.compiledFiles).toBe(0);
  });

  it('forgets the least recently deployed files beyond its limit', async () => {
    const cache = new ValidatedFiles(compiler, 2);
    const [a, b, c] = [file('a.ts', 'lru.a', '1'), file('b.ts', 'lru.b', '1'), file('c.ts', 'lru.c', '1')];
    await cache.validate([a]);
    await cache.validate([b]);
    await cache.validate([a]); // a is now the most recent
    await cache.validate([c]); // b goes
    expect(cache.size).toBe(2);
    expect((await cache.validate([a])).compiledFiles).toBe(0);
    expect((await cache.validate([b])).compiledFiles).toBe(1);
  });
});
