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
}

const WRAPPER_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];
const defaultRequire = createRequire(path.join(process.cwd(), 'noop.js'));

/**
 * Evaluates compiled CommonJS service code and returns the services it exports, in export order.
 * Loading in the current context costs a few KB per module (no new realm), which is what lets a
 * server hold thousands of idle services.
 */
export function loadServiceModule(code: string, options: LoadServiceModuleOptions): ServiceDefinition[] {
  const { filename, context } = options;
  const requireModule = options.requireModule ?? defaultRequire;
  const moduleRequire = (id: string): unknown => (id === '@laneway/sdk' ? sdk : requireModule(id));
  const module = { exports: {} as Record<string, unknown> };
  const args = [module.exports, moduleRequire, module, filename, path.posix.dirname(filename)];
  try {
    if (context) {
      // A Script (not compileFunction) so that the top-level code runs under a timeout.
      const script = new vm.Script(`(function (${WRAPPER_PARAMS.join(', ')}) {\n${code}\n})`, {
        filename,
        lineOffset: -1,
      });
      const fn = script.runInContext(context) as (...a: unknown[]) => void;
      context['__lanewayArgs'] = args;
      context['__lanewayFn'] = fn;
      try {
        new vm.Script('__lanewayFn.apply(__lanewayArgs[0], __lanewayArgs)').runInContext(context, {
          timeout: options.timeoutMs ?? 2000,
        });
      } finally {
        delete context['__lanewayArgs'];
        delete context['__lanewayFn'];
      }
    } else {
      const fn = vm.compileFunction(code, WRAPPER_PARAMS, { filename });
      fn.apply(module.exports, args);
    }
  } catch (err) {
    throw new ServiceModuleError(filename, `${filename}: loading failed: ${describeError(err)}`, { cause: err });
  }
  return collectServices(module.exports, filename);
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
