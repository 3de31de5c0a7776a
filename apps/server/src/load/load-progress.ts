const INDEX = 0;
const STARTS = 1;
const FINISHED = 2;
const IDLE = -1;

/**
 * Which module a loading thread is evaluating, in memory shared with the main thread. A thread that
 * dies (out of heap, `process.exit`) or hangs is blamed on the module it was in: a message posted
 * just before a thread dies may never arrive, a write to shared memory is already there.
 */
export class LoadProgress {
  private readonly view: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(12)) {
    this.view = new Int32Array(buffer);
    Atomics.store(this.view, INDEX, IDLE);
  }

  /** In the thread, just before module `index` starts its top-level code. */
  enter(index: number): void {
    Atomics.store(this.view, INDEX, index);
    Atomics.add(this.view, STARTS, 1);
  }

  /** In the thread, once it evaluates no module. */
  leave(): void {
    Atomics.store(this.view, INDEX, IDLE);
  }

  /** In the thread, when a piece of work is done (before its last message is posted). */
  finish(): void {
    this.leave();
    Atomics.add(this.view, FINISHED, 1);
  }

  /** The module being evaluated, or undefined between modules. */
  get current(): number | undefined {
    const index = Atomics.load(this.view, INDEX);
    return index === IDLE ? undefined : index;
  }

  /**
   * On the main thread, while the thread has one piece of work: calls `onStuck` once when no module
   * started for a whole `periodMs` before the work finished, that is when a module outran the
   * thread's own vm watchdog (stuck outside JavaScript, in a blocking native call) or the thread
   * never got to the work. Returns the function that stops watching.
   */
  watch(periodMs: number, onStuck: (index: number | undefined) => void): () => void {
    let starts = Atomics.load(this.view, STARTS);
    const finished = Atomics.load(this.view, FINISHED);
    const timer = setInterval(() => {
      // Done: its last message is on the way, however busy this thread is.
      if (Atomics.load(this.view, FINISHED) !== finished) {
        clearInterval(timer);
        return;
      }
      const now = Atomics.load(this.view, STARTS);
      if (now !== starts) {
        starts = now;
        return;
      }
      clearInterval(timer);
      onStuck(this.current);
    }, periodMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
