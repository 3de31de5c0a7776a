import type { ServiceModuleError } from '@laneway/runtime';

/** The heap limit of the thread a module loads in, and the setting behind it. */
export interface HeapLimit {
  limitMb: number;
  setting: string;
}

/** Why a module could not be loaded, as seen by the server. */
export type LoadFailure =
  /** Compiling or evaluating it failed (it threw, overflowed the stack, exported nothing, timed out). */
  | { kind: 'module'; error: ServiceModuleError; timeoutMs: number; heap?: HeapLimit }
  /** Its thread ran out of heap while it loaded. */
  | { kind: 'heap'; heap: HeapLimit | undefined }
  /** Its thread ended while it loaded (`process.exit` at top level, or a crash). */
  | { kind: 'exit'; code: number; detail: string | undefined }
  /** It ran past the timeout and its thread did not stop (a blocking native call): the thread was terminated. */
  | { kind: 'stuck'; timeoutMs: number };

// A top level stopped at the timeout while holding this much of its heap limit was filling the heap.
const NEAR_HEAP_LIMIT = 0.75;

/** The message of a NACK entry for a module that failed to load: its file, then what happened. */
export function describeLoadFailure(filename: string, failure: LoadFailure): string {
  switch (failure.kind) {
    case 'module': {
      const { error, timeoutMs, heap } = failure;
      if (error.reason !== 'timeout') return error.message;
      const usedMb = error.heapUsedMb ?? 0;
      if (heap && usedMb >= NEAR_HEAP_LIMIT * heap.limitMb) {
        return `${filename}: loading used ${Math.round(usedMb)} MB of heap, near the ${heap.limitMb} MB limit (${heap.setting}), when its top-level code ran past ${timeoutMs} ms (LANEWAY_LOAD_TIMEOUT_MS)`;
      }
      return `${filename}: top-level code ran past ${timeoutMs} ms (LANEWAY_LOAD_TIMEOUT_MS)`;
    }
    case 'heap':
      return failure.heap
        ? `${filename}: loading used more than ${failure.heap.limitMb} MB of heap (${failure.heap.setting})`
        : `${filename}: loading ran out of heap`;
    case 'exit':
      return `${filename}: loading ended its thread (exit code ${failure.code}${failure.detail ? `: ${failure.detail}` : ''})`;
    case 'stuck':
      return `${filename}: top-level code ran past ${failure.timeoutMs} ms (LANEWAY_LOAD_TIMEOUT_MS) and did not stop; its thread was terminated`;
  }
}
