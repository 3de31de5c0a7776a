import { createRequire } from 'node:module';
import path from 'node:path';
import type vm from 'node:vm';
import * as sdk from '@laneway/sdk';
import { isServiceDefinition, type ServiceDefinition } from '@laneway/sdk';
import { describeError, isTimeout, ModuleBatch } from './module-batch';

/** Why a module could not be loaded. */
export type ServiceModuleFailure = 'compile' | 'threw' | 'timeout' | 'no-service';

/** Raised when a service module cannot be evaluated or exports no service. */
export class ServiceModuleError extends Error {
  /** What went wrong; `timeout` is the vm watchdog stopping its top-level code. */
  readonly reason: ServiceModuleFailure;
  /**
   * For a timeout: the heap in use when the watchdog stopped it. A top level that fills the heap
   * slows down in garbage collection near the limit and often reaches the timeout first.
   */
  readonly heapUsedMb: number | undefined;

  constructor(
    readonly filename: string,
    message: string,
    options?: { cause?: unknown; reason?: ServiceModuleFailure; heapUsedMb?: number },
  ) {
    super(message, options);
    this.name = 'ServiceModuleError';
    this.reason = options?.reason ?? 'threw';
    this.heapUsedMb = options?.heapUsedMb;
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
  /**
   * Bound on the modules' top-level code, in milliseconds: with `context`, default 2000; in the
   * current context, unbounded unless given.
   */
  timeoutMs?: number;
  /** Resolves anything but `@laneway/sdk`; defaults to Node's resolution from the process's cwd. */
  requireModule?: (id: string) => unknown;
  /**
   * Called with a module's index before its top level runs. With it, the batch runs without the
   * `timeoutMs` watchdog: the caller bounds it from outside (the control plane's compile process
   * reports each index to its parent, which kills it past its deadline and so knows which module ran
   * too long, or was loading when the process died).
   */
  beforeModule?: (index: number) => void;
  /** A module that exports no service loads as none (a helper other files import) instead of failing. */
  allowNoService?: boolean;
}

const defaultRequire = createRequire(path.join(process.cwd(), 'noop.js'));

/** One compiled module to evaluate. */
export interface ServiceModuleSource {
  code: string;
  filename: string;
}

/** `require` as service modules see it: the SDK built in, anything else through `requireModule`. */
export function serviceRequire(requireModule: (id: string) => unknown = defaultRequire): (id: string) => unknown {
  return (id) => (id === '@laneway/sdk' ? sdk : requireModule(id));
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
 * Evaluates many modules at once; the top-level code of all of them runs under one timeout (one
 * watchdog for the batch: a timeout per module costs about 0.5 ms each). Throws
 * {@link ServiceModuleError} for the first module that fails, naming its file.
 */
export function loadServiceModules(
  sources: readonly ServiceModuleSource[],
  options: Omit<LoadServiceModuleOptions, 'filename'> = {},
): ServiceDefinition[][] {
  const { context } = options;
  const batch = new ModuleBatch(sources, { context, moduleRequire: serviceRequire(options.requireModule) });
  for (const [at, err] of batch.compileErrors) {
    const { filename } = sources[at]!;
    throw new ServiceModuleError(filename, `${filename}: loading failed: ${describeError(err)}`, { cause: err, reason: 'compile' });
  }
  const { beforeModule } = options;
  const timeoutMs = beforeModule ? undefined : context ? (options.timeoutMs ?? 2000) : options.timeoutMs;
  const failed = batch.run(0, timeoutMs, beforeModule);
  if (failed) {
    const { filename } = sources[failed.at]!;
    throw new ServiceModuleError(filename, `${filename}: loading failed: ${describeError(failed.error)}`, {
      cause: failed.error,
      reason: isTimeout(failed.error) ? 'timeout' : 'threw',
    });
  }
  return sources.map((source, i) =>
    options.allowNoService && !hasService(batch.exportsOf(i)) ? [] : collectServices(batch.exportsOf(i), source.filename),
  );
}

function hasService(exports: unknown): boolean {
  if (isServiceDefinition(exports)) return true;
  return exports !== null && typeof exports === 'object' && Object.values(exports as Record<string, unknown>).some(isServiceDefinition);
}

/** Why a file that exports no service cannot be deployed on its own. */
export function noServiceMessage(filename: string): string {
  return `${filename}: exports no service: export one with \`export default defineService({ name, lane, handle })\``;
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
      noServiceMessage(filename),
      { reason: 'no-service' },
    );
  }
  return [...found];
}
