import path from 'node:path';
import vm from 'node:vm';
import { beginModuleRun, linkedRequire, parseModuleSet, type ModuleSet } from './module-set';

const WRAPPER_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];
const BATCH_GLOBAL = '__lanewayBatch';
// Compiled once: the loop runs as a script so that one vm watchdog covers every module it calls.
const RUN_BATCH = new vm.Script(
  `(() => {
  const b = globalThis.${BATCH_GLOBAL};
  for (let i = b.from; i < b.fns.length; i++) {
    const fn = b.fns[i];
    if (fn === undefined) continue;
    b.at = i;
    b.enter(i);
    fn.apply(b.args[i][0], b.args[i]);
  }
})()`,
  { filename: 'laneway:module-batch' },
);

export interface ModuleBatchOptions {
  /** Compile and run in this `vm` context instead of the current one. */
  context?: vm.Context;
  /** `require` as the modules see it. */
  moduleRequire: (id: string) => unknown;
}

/** Where a run of a batch stopped: the module that threw (or was running at the timeout). */
export interface BatchFailure {
  at: number;
  error: unknown;
  /** How long after the run began that module started (the part of the budget others used). */
  startedAfterMs: number;
}

/**
 * Compiled CommonJS modules whose top-level code runs in order. Each {@link run} is one script with
 * one vm watchdog for all the modules it calls (a watchdog costs about 0.1-0.5 ms to arm).
 */
export class ModuleBatch {
  /** Why modules failed to compile, by index (they are skipped when the batch runs). */
  readonly compileErrors = new Map<number, unknown>();
  private readonly fns: (((...args: unknown[]) => void) | undefined)[];
  private readonly modules: { exports: unknown }[] = [];
  private readonly args: unknown[][] = [];
  // The module set of each source that has one (a file with relative imports).
  private readonly sets: (ModuleSet | undefined)[] = [];

  constructor(
    private readonly sources: readonly { code: string; filename: string }[],
    private readonly options: ModuleBatchOptions,
  ) {
    this.fns = sources.map((source, i) => {
      let code = source.code;
      try {
        const set = parseModuleSet(code);
        this.sets[i] = set;
        if (set) code = set.modules[set.entry]!.code;
      } catch (err) {
        this.reset(i);
        this.compileErrors.set(i, err);
        return undefined;
      }
      this.reset(i);
      try {
        return vm.compileFunction(code, WRAPPER_PARAMS, { filename: source.filename, parsingContext: options.context }) as (
          ...a: unknown[]
        ) => void;
      } catch (err) {
        this.compileErrors.set(i, err);
        return undefined;
      }
    });
  }

  get length(): number {
    return this.sources.length;
  }

  /** `module.exports` of module `i` after it ran. */
  exportsOf(i: number): unknown {
    return this.modules[i]!.exports;
  }

  /** Gives module `i` fresh `module` and `exports` objects (before it runs again). */
  reset(i: number): void {
    const filename = this.sources[i]!.filename;
    const module = { exports: {} as unknown };
    this.modules[i] = module;
    const set = this.sets[i];
    const moduleRequire = set ? linkedRequire(set, module, this.options.moduleRequire, this.options.context) : this.options.moduleRequire;
    this.args[i] = [module.exports, moduleRequire, module, filename, path.posix.dirname(filename)];
  }

  /**
   * Runs the top-level code of modules `from` onwards (skipping those that did not compile) until
   * one throws; `onModule` is called just before each one starts. Returns where it stopped, or
   * undefined once every module ran.
   */
  run(from: number, timeoutMs: number | undefined, onModule?: (index: number) => void): BatchFailure | undefined {
    beginModuleRun();
    const begun = performance.now();
    let startedAt = begun;
    const enter = (index: number): void => {
      startedAt = performance.now();
      onModule?.(index);
    };
    const batch = { fns: this.fns, args: this.args, from, at: from, enter };
    const { context } = this.options;
    const global = (context ?? globalThis) as Record<string, unknown>;
    global[BATCH_GLOBAL] = batch;
    try {
      const options = timeoutMs === undefined ? undefined : { timeout: timeoutMs };
      if (context) RUN_BATCH.runInContext(context, options);
      else RUN_BATCH.runInThisContext(options);
      return undefined;
    } catch (error) {
      return { at: batch.at, error, startedAfterMs: startedAt - begun };
    } finally {
      delete global[BATCH_GLOBAL];
    }
  }
}

/** Whether `err` is the vm watchdog stopping a run. */
export function isTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

/** The message of anything thrown, including errors made in another vm context. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  // Errors thrown inside another vm context fail `instanceof Error`.
  if (err !== null && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
