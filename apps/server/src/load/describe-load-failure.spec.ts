import { ServiceModuleError } from '@laneway/runtime';
import { describe, expect, it } from 'vitest';
import { describeLoadFailure } from './describe-load-failure';

const timeout = (heapUsedMb: number) =>
  new ServiceModuleError('x.js', 'x.js: top-level code ran past 2000 ms', { reason: 'timeout', heapUsedMb });
const heap = { limitMb: 512, setting: 'LANEWAY_LOAD_MAX_HEAP_MB' };

describe('describeLoadFailure', () => {
  it('names the setting behind each bound', () => {
    expect(describeLoadFailure('x.js', { kind: 'module', error: timeout(10), timeoutMs: 2000, heap })).toBe(
      'x.js: top-level code ran past 2000 ms (LANEWAY_LOAD_TIMEOUT_MS)',
    );
    expect(describeLoadFailure('x.js', { kind: 'heap', heap })).toBe('x.js: loading used more than 512 MB of heap (LANEWAY_LOAD_MAX_HEAP_MB)');
    expect(describeLoadFailure('x.js', { kind: 'exit', code: 3, detail: undefined })).toBe('x.js: loading ended its thread (exit code 3)');
    expect(describeLoadFailure('x.js', { kind: 'stuck', timeoutMs: 2000 })).toMatch(/ran past 2000 ms .* did not stop; its thread was terminated$/);
  });

  it('reports a top level stopped at the timeout while it held most of the heap as the heap blow-up it was', () => {
    // Near the limit, garbage collection slows an allocating loop down until the watchdog fires first.
    expect(describeLoadFailure('x.js', { kind: 'module', error: timeout(502), timeoutMs: 2000, heap })).toBe(
      'x.js: loading used 502 MB of heap, near the 512 MB limit (LANEWAY_LOAD_MAX_HEAP_MB), when its top-level code ran past 2000 ms (LANEWAY_LOAD_TIMEOUT_MS)',
    );
    // On the main thread there is no such limit to be near.
    expect(describeLoadFailure('x.js', { kind: 'module', error: timeout(502), timeoutMs: 2000 })).toBe(
      'x.js: top-level code ran past 2000 ms (LANEWAY_LOAD_TIMEOUT_MS)',
    );
  });

  it('passes other module errors through', () => {
    const error = new ServiceModuleError('x.js', 'x.js: loading failed: boom', { reason: 'threw' });
    expect(describeLoadFailure('x.js', { kind: 'module', error, timeoutMs: 2000, heap })).toBe('x.js: loading failed: boom');
  });
});
