import { getHeapStatistics } from 'node:v8';
import type { ServiceDefinition } from '@laneway/sdk';
import { collectServices, serviceRequire, ServiceModuleError, type ServiceModuleSource } from './load-service-module';
import { describeError, isTimeout, ModuleBatch } from './module-batch';

// A module stopped at the timeout after others used more than this share of it runs again alone.
const SHARED_BUDGET = 0.1;

export interface EvaluateServiceModulesOptions {
  /**
   * Bound on each module's top-level code, in milliseconds (unbounded if absent). Several modules
   * share one watchdog; a module stopped after others used more than a tenth of it runs again alone.
   */
  timeoutMs?: number;
  /** Resolves anything but `@laneway/sdk`; defaults to Node's resolution from the process's cwd. */
  requireModule?: (id: string) => unknown;
  /** Called just before each module's top-level code starts (again, if it is run again). */
  onModule?: (index: number) => void;
}

/** What evaluating one module gave. */
export type ServiceModuleOutcome = { ok: true; services: ServiceDefinition[] } | { ok: false; error: ServiceModuleError };

/**
 * Evaluates modules in the current context and reports each one: a module that fails to compile,
 * throws, runs past the timeout or exports no service does not stop the others.
 */
export function evaluateServiceModules(
  sources: readonly ServiceModuleSource[],
  options: EvaluateServiceModulesOptions = {},
): ServiceModuleOutcome[] {
  const { timeoutMs } = options;
  const batch = new ModuleBatch(sources, { moduleRequire: serviceRequire(options.requireModule) });
  const failures = new Map<number, ServiceModuleError>();
  for (const [at, err] of batch.compileErrors) {
    const { filename } = sources[at]!;
    failures.set(at, new ServiceModuleError(filename, `${filename}: loading failed: ${describeError(err)}`, { cause: err, reason: 'compile' }));
  }
  let from = 0;
  while (from < batch.length) {
    const failed = batch.run(from, timeoutMs, options.onModule);
    if (!failed) break;
    const { at, error } = failed;
    if (isTimeout(error) && failed.startedAfterMs > SHARED_BUDGET * timeoutMs!) {
      // The modules before it in this run used a fair part of the budget: it gets a run of its own.
      batch.reset(at);
      from = at;
      continue;
    }
    const { filename } = sources[at]!;
    failures.set(
      at,
      isTimeout(error)
        ? new ServiceModuleError(filename, `${filename}: top-level code ran past ${timeoutMs} ms`, {
            cause: error,
            reason: 'timeout',
            heapUsedMb: getHeapStatistics().used_heap_size / 1048576,
          })
        : new ServiceModuleError(filename, `${filename}: loading failed: ${describeError(error)}`, { cause: error, reason: 'threw' }),
    );
    from = at + 1;
  }
  return sources.map((source, i): ServiceModuleOutcome => {
    const failure = failures.get(i);
    if (failure) return { ok: false, error: failure };
    try {
      return { ok: true, services: collectServices(batch.exportsOf(i), source.filename) };
    } catch (err) {
      return { ok: false, error: err as ServiceModuleError };
    }
  });
}
