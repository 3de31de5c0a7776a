import vm from 'node:vm';
import { loadServiceModules } from '@laneway/runtime';
import { InvalidArgumentError } from '../errors';
import type { NewServiceVersion } from '../store';
import type { CompiledServiceFile } from './compile-service-file';

/**
 * Evaluates the compiled files in a throwaway `vm` context (one per deploy, not per file: a context
 * costs about 0.8 ms and 180 KB) to learn the name and lane of every exported service, and checks that
 * no name is used twice. The top-level code of the whole batch is bounded by one timeout. Nothing from
 * the uploads touches the control plane's own globals.
 */
export function inspectServices(files: readonly CompiledServiceFile[], timeoutMs?: number): NewServiceVersion[] {
  const services = inspectFiles(files, { timeoutMs }).flat();
  checkUniqueNames(services);
  return services;
}

export interface InspectOptions {
  /** Bound on the batch's top-level code (a vm watchdog); ignored with `beforeModule`. */
  timeoutMs?: number;
  /** Called before each file's top level runs; the caller then bounds the time (see loadServiceModules). */
  beforeModule?: (index: number) => void;
  /** A file that exports no service gives none instead of failing (see loadServiceModules). */
  allowNoService?: boolean;
}

/** The services each file exports, in file order (names not yet checked across files). */
export function inspectFiles(files: readonly CompiledServiceFile[], options: InspectOptions = {}): NewServiceVersion[][] {
  const { timeoutMs = 2000 + files.length, beforeModule, allowNoService } = options;
  const context = vm.createContext({});
  // Everything the uploads can reach is made inside their own realm: no host object to pollute, no
  // timer that would fire later in the control plane, no module with the control plane's rights.
  const inert = vm.runInContext(INERT_GLOBALS, context) as (id: string) => unknown;
  let loaded;
  try {
    loaded = loadServiceModules(
      files.map((f) => ({ code: f.code, filename: f.path })),
      { context, timeoutMs, requireModule: inert, beforeModule, allowNoService },
    );
  } catch (err) {
    throw new InvalidArgumentError('files', (err as Error).message, { path: (err as { filename?: string }).filename });
  }
  // Every service's input schema in one run in the uploads' realm (one script per service, each
  // with its own watchdog, cost about 0.1 ms a service: most of inspecting one).
  const schemas = inputSchemasOf(context, loaded.flat());
  let at = 0;
  return files.map((file, n) =>
    loaded[n]!.map((def) => ({
      name: def.name,
      version: file.version,
      lane: def.lane,
      path: file.path,
      source: file.source,
      code: file.code,
      policy: { timeoutMs: def.timeoutMs ?? 0, attempts: def.attempts ?? 0, concurrency: def.concurrency ?? 0 },
      // Copied out of the uploads' realm: a plain array of this realm's strings.
      connections: Array.from(def.connections ?? [], String),
      inputSchema: schemas[at++]!,
    })),
  );
}

/** Fails when two services of one deploy share a name. */
export function checkUniqueNames(services: readonly NewServiceVersion[]): void {
  const seen = new Map<string, string>();
  for (const service of services) {
    const other = seen.get(service.name);
    if (other !== undefined) {
      throw new InvalidArgumentError(
        'files',
        `service '${service.name}' is defined twice, in ${other} and ${service.path}: service names must be unique`,
        { service: service.name },
      );
    }
    seen.set(service.name, service.path);
  }
}

/**
 * Runs inside the sandbox: silent console, timers that never fire, and a `require` that answers every
 * module but `@laneway/sdk` with an inert stand-in (any property, any call, any `new` gives another
 * stand-in), so a service's top-level `require('pg')` or `import { z } from 'zod'` evaluates without
 * doing anything. The servers load the real modules; a missing one there is a NACK.
 * This is containment of accidents, not a security boundary: deploying needs the admin token, and
 * admins run code on every server anyway.
 */
const INERT_GLOBALS = `
(() => {
  const noop = () => {};
  globalThis.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop };
  let timer = 0;
  for (const name of ['setTimeout', 'setInterval', 'setImmediate']) globalThis[name] = () => ++timer;
  for (const name of ['clearTimeout', 'clearInterval', 'clearImmediate']) globalThis[name] = noop;
  globalThis.queueMicrotask = noop;
  const handler = {
    get: (target, key) => (key === Symbol.toPrimitive ? () => '' : key === 'then' ? undefined : stub()),
    apply: () => stub(),
    construct: () => stub(),
  };
  const stub = () => new Proxy(function inert() {}, handler);
  return (id) => stub();
})()
`;

/** The most JSON Schema text kept for a service's input (a larger one is left out). */
const MAX_INPUT_SCHEMA_CHARS = 64 * 1024;

/** The time each service's input schema may take (the services of a run share one watchdog). */
const INPUT_SCHEMA_TIMEOUT_MS = 500;
// A service stopped at the timeout after others used more than this share of it runs again alone.
const SHARED_BUDGET = 0.1;
const SCHEMA_BATCH = '__lanewayInputSchemas';
// Compiled once, run in each deploy's realm: one vm watchdog for every service it reads.
const INPUT_SCHEMAS = new vm.Script(
  `(() => {
  const b = globalThis.${SCHEMA_BATCH};
  for (let i = b.from; i < b.defs.length; i++) {
    b.enter(i);
    let text = '';
    try {
      const schema = b.defs[i] && b.defs[i].input;
      const standard = schema && schema['~standard'];
      const json = standard && standard.jsonSchema;
      if (json && typeof json.input === 'function') {
        const out = json.input({ target: 'draft-2020-12' });
        if (out && typeof out === 'object') {
          const { $schema, ...rest } = out;
          text = JSON.stringify(rest);
        }
      }
    } catch {
      text = '';
    }
    b.put(i, text);
  }
})()`,
  { filename: 'laneway:input-schemas' },
);

/**
 * The JSON Schema (draft 2020-12, as JSON text, without `$schema`) of each service's input when its
 * `input` is a Standard Schema with `~standard.jsonSchema` (zod 4 has it); '' otherwise, when the
 * library cannot express it, or when it runs past its time. Computed inside the uploads' realm and
 * returned as strings: nothing of theirs crosses into the control plane but text.
 */
function inputSchemasOf(context: vm.Context, defs: readonly unknown[]): string[] {
  const texts: string[] = defs.map(() => '');
  let current = -1;
  let lastPut = -1;
  let startedAt = 0;
  const batch = {
    defs,
    from: 0,
    enter: (i: number) => {
      current = i;
      startedAt = performance.now();
    },
    put: (i: number, text: unknown) => {
      lastPut = i;
      if (typeof text === 'string' && text.length <= MAX_INPUT_SCHEMA_CHARS && i >= 0 && i < texts.length) texts[i] = text;
    },
  };
  const global = context as Record<string, unknown>;
  const ranAlone = new Set<number>();
  try {
    while (batch.from < defs.length) {
      const begun = performance.now();
      global[SCHEMA_BATCH] = batch;
      try {
        INPUT_SCHEMAS.runInContext(context, { timeout: INPUT_SCHEMA_TIMEOUT_MS });
        break;
      } catch {
        // The watchdog (or the uploads' code undoing the loop): the service that was running gets a
        // run of its own if others used a fair part of the budget, and gives '' otherwise.
        const at = Math.max(current, batch.from);
        if (lastPut === at) {
          batch.from = at + 1;
        } else if (startedAt - begun > SHARED_BUDGET * INPUT_SCHEMA_TIMEOUT_MS && !ranAlone.has(at)) {
          ranAlone.add(at);
          batch.from = at;
        } else {
          texts[at] = '';
          batch.from = at + 1;
        }
      }
    }
  } finally {
    delete global[SCHEMA_BATCH];
  }
  return texts;
}
