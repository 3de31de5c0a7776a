import type { ServiceModuleSource } from '@laneway/runtime';

/** Messages from the main thread to the load-check thread. */
export type ToLoadChecker = {
  t: 'check';
  id: number;
  sources: ServiceModuleSource[];
  /** Modules per `checked` answer: the main thread evaluates one chunk while the next is checked. */
  chunk: number;
};

/** A module that failed in the checker, by its index in the `check` message's sources. */
export interface CheckFailure {
  index: number;
  message: string;
}

/** Messages from the load-check thread to the main thread. */
export type FromLoadChecker = {
  t: 'checked';
  id: number;
  /** Sources `from` (inclusive) to `to` (exclusive) were evaluated; all but `failures` loaded. */
  from: number;
  to: number;
  failures: CheckFailure[];
  /** Set on the last chunk: whether the thread should be replaced (see {@link CheckerHealth}). */
  health?: CheckerHealth;
};

/** How the checker thread is after a check. */
export interface CheckerHealth {
  heapMb: number;
  /** Checked code left timers, sockets or other handles running in the thread. */
  leftRunning: boolean;
}

/** Static data the load-check thread gets at start. */
export interface LoadCheckerData {
  /** A LoadProgress buffer. */
  progress: SharedArrayBuffer;
  timeoutMs: number;
  maxHeapMb: number;
}
