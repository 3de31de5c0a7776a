import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import * as sdk from '@laneway/sdk';
import { isServiceDefinition, type ServiceDefinition } from '@laneway/sdk';

/** Raised when a service module cannot be evaluated or exports no service. */
export class ServiceModuleError extends Error {
  constructor(
    readonly filename: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServiceModuleError';
  }
}

export interface LoadServiceModuleOptions {
  /** Shown in stack traces and errors; the path the author deployed. */
  filename: string;
  /**
   * Evaluate inside this `vm` context instead of the current one: the control plane does this to
   * inspect untrusted uploads without touching its own globals.
   */
  context?: vm.Context;
  /** Bound on the module's top-level code, in milliseconds (only with `context`). */
  timeoutMs?: number;
  /** Resolves anything but `@laneway/sdk`; defaults to Node's resolution from the process's cwd. */
  requireModule?: (id: string) => unknown;
  /**
   * Called with a module's index before its top level runs (only with `context`). With it, the batch
   * runs without the `timeoutMs` watchdog: the caller bounds it from outside (the control plane's
   * compile process reports each index to its parent, which kills it past its deadline and so knows
   * which module ran too long, or was loading when the process died).
   */
  beforeModule?: (index: number) => void;
}

const WRAPPER_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];
const defaultRequire = createRequire(path.join(process.cwd(), 'noop.js'));

/** One compiled module to evaluate. */
export interface ServiceModuleSource {
  code: string;
  filename: string;
}

/**
 * Evaluates compiled CommonJS service code and returns the services it exports, in export order.
 * Loading in the current context costs a few KB per module (no new realm), which is what lets a
 * server hold thousands of idle services.
 */
export function loadServiceModule(code: string, options: LoadServiceModuleOptions): ServiceDefinition[] {
  return loadServiceModules([{ code, filename: options.filename }], options)[0]!;
}

/**
 * Evaluates many modules at once. With a `context`, the top-level code of all of them runs under one
 * timeout (one watchdog for the batch: a timeout per module costs about 0.5 ms each). Throws
 * {@link ServiceModuleError} for the first module that fails, naming its file.
 */
export function loadServiceModules(
  sources: readonly ServiceModuleSource[],
  options: Omit<LoadServiceModuleOptions, 'filename'> = {},
): ServiceDefinition[][] {
  const { context } = options;
  const requireModule = options.requireModule ?? defaultRequire;
  const moduleRequire = (id: string): unknown => (id === '@laneway/sdk' ? sdk : requireModule(id));
  const modules = sources.map((source) => {
    const module = { exports: {} as Record<string, unknown> };
    let fn: (...args: unknown[]) => void;
    try {
      fn = vm.compileFunction(source.code, WRAPPER_PARAMS, { filename: source.filename, parsingContext: context }) as (
        ...a: unknown[]
      ) => void;
    } catch (err) {
      throw new ServiceModuleError(source.filename, `${source.filename}: loading failed: ${describeError(err)}`, { cause: err });
    }
    const args = [module.exports, moduleRequire, module, source.filename, path.posix.dirname(source.filename)];
    return { source, module, fn, args };
  });
  if (context && options.beforeModule) {
    modules.forEach((m, index) => {
      options.beforeModule!(index);
      try {
        m.fn.apply(m.module.exports, m.args);
      } catch (err) {
        throw new ServiceModuleError(m.source.filename, `${m.source.filename}: loading failed: ${describeError(err)}`, { cause: err });
      }
    });
  } else if (context) {
    const progress = { at: 0 };
    context['__lanewayBatch'] = { modules: modules.map((m) => [m.fn, m.args]), progress };
    try {
      new vm.Script(
        'for (const [fn, args] of __lanewayBatch.modules) { fn.apply(args[0], args); __lanewayBatch.progress.at++; }',
      ).runInContext(context, { timeout: options.timeoutMs ?? 2000 });
    } catch (err) {
      const failed = modules[Math.min(progress.at, modules.length - 1)]!.source.filename;
      throw new ServiceModuleError(failed, `${failed}: loading failed: ${describeError(err)}`, { cause: err });
    } finally {
      delete context['__lanewayBatch'];
    }
  } else {
    for (const m of modules) {
      try {
        m.fn.apply(m.module.exports, m.args);
      } catch (err) {
        throw new ServiceModuleError(m.source.filename, `${m.source.filename}: loading failed: ${describeError(err)}`, { cause: err });
      }
    }
  }
  return modules.map((m) => collectServices(m.module.exports, m.source.filename));
}

/** The service definitions among a module's exports (default first), each once. */
export function collectServices(exports: unknown, filename: string): ServiceDefinition[] {
  const found = new Set<ServiceDefinition>();
  if (isServiceDefinition(exports)) found.add(exports);
  if (exports !== null && typeof exports === 'object') {
    const record = exports as Record<string, unknown>;
    if (isServiceDefinition(record['default'])) found.add(record['default']);
    for (const value of Object.values(record)) if (isServiceDefinition(value)) found.add(value);
  }
  if (found.size === 0) {
    throw new ServiceModuleError(
      filename,
      `${filename}: exports no service: export one with \`export default defineService({ name, lane, handle })\``,
    );
  }
  return [...found];
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  // Errors thrown inside another vm context fail `instanceof Error`.
  if (err !== null && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
