import path from 'node:path';
import vm from 'node:vm';

/**
 * A deployed file that imports other deployed files travels as a module set: its own compiled code
 * and that of every file it reaches through relative imports, each with how its specifiers resolve.
 * A file without such imports travels as its plain compiled code, exactly as before.
 *
 * The first line names the set's module keys, so that a holder can tell which shared modules are live
 * without parsing the rest: `//laneway:modules 1 KEY,KEY,...`.
 */
export const MODULE_SET_PREFIX = '//laneway:modules 1 ';

/** One module of a set. */
export interface LinkedModule {
  /**
   * Identity of the module's evaluation: a hash of its code, its path and everything it reaches, so
   * that equal keys can share one evaluated instance and a changed dependency gives a new key.
   */
  key: string;
  code: string;
  /** Specifier (as written in its `require`) -> path of the module in the set. */
  deps: Record<string, string>;
}

export interface ModuleSet {
  /** Path of the service file itself. */
  entry: string;
  /** By path; includes the entry. */
  modules: Record<string, LinkedModule>;
}

/** The wire form of a module set (what `code` holds for a file with relative imports). */
export function formatModuleSet(set: ModuleSet): string {
  const keys = Object.entries(set.modules)
    .filter(([p]) => p !== set.entry)
    .map(([, m]) => m.key);
  return `${MODULE_SET_PREFIX}${keys.join(',')}\n${JSON.stringify(set)}`;
}

/** The module set `code` holds, or undefined for plain compiled code. */
export function parseModuleSet(code: string): ModuleSet | undefined {
  if (!code.startsWith(MODULE_SET_PREFIX)) return undefined;
  return JSON.parse(code.slice(code.indexOf('\n') + 1)) as ModuleSet;
}

/** The keys of the shared (non-entry) modules a module set's code holds; none for plain code. */
export function moduleSetKeys(code: string): string[] {
  if (!code.startsWith(MODULE_SET_PREFIX)) return [];
  const line = code.slice(MODULE_SET_PREFIX.length, code.indexOf('\n'));
  return line ? line.split(',') : [];
}

const WRAPPER_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];

interface SharedModule {
  module: { exports: unknown };
  loaded: boolean;
  /** The batch run that started it: a run stopped by the watchdog leaves it half loaded. */
  run: number;
}

// Evaluated shared modules by key: one per realm (this thread's, or a vm context's).
const shared = new Map<string, SharedModule>();
const sharedByContext = new WeakMap<vm.Context, Map<string, SharedModule>>();
let currentRun = 0;

/** Marks the start of a batch run (see {@link SharedModule.run}). */
export function beginModuleRun(): void {
  currentRun++;
}

function cacheOf(context: vm.Context | undefined): Map<string, SharedModule> {
  if (!context) return shared;
  let cache = sharedByContext.get(context);
  if (!cache) sharedByContext.set(context, (cache = new Map()));
  return cache;
}

/**
 * `require` for a module of a set: specifiers the set resolves load the shared module (evaluated once
 * per key in this realm; a module still loading returns its partial exports, as Node does for cycles);
 * the entry's own path gives the entry's module; anything else goes to `fallback`.
 */
export function linkedRequire(
  set: ModuleSet,
  entryModule: { exports: unknown },
  fallback: (id: string) => unknown,
  context: vm.Context | undefined,
): (id: string) => unknown {
  const cache = cacheOf(context);
  const requireFrom = (from: string): ((id: string) => unknown) => {
    const deps = set.modules[from]?.deps ?? {};
    return (id) => {
      const target = deps[id];
      if (target === undefined) return fallback(id);
      if (target === set.entry) return entryModule.exports;
      const linked = set.modules[target]!;
      const known = cache.get(linked.key);
      if (known && (known.loaded || known.run === currentRun)) return known.module.exports;
      const fn = vm.compileFunction(linked.code, WRAPPER_PARAMS, {
        filename: target,
        parsingContext: context,
      }) as (...a: unknown[]) => void;
      const module = { exports: {} as unknown };
      const record: SharedModule = { module, loaded: false, run: currentRun };
      cache.set(linked.key, record);
      try {
        fn.call(
          module.exports,
          module.exports,
          requireFrom(target),
          module,
          target,
          path.posix.dirname(target),
        );
      } catch (err) {
        cache.delete(linked.key);
        throw err;
      }
      record.loaded = true;
      return module.exports;
    };
  };
  return requireFrom(set.entry);
}

/**
 * Drops the shared modules of this realm whose keys are not in `liveKeys` (the {@link moduleSetKeys}
 * of the code still held), so that a replaced helper's old version does not stay in memory.
 */
export function retainSharedModules(liveKeys: Iterable<string>): void {
  if (!shared.size) return;
  const live = new Set(liveKeys);
  for (const key of shared.keys()) if (!live.has(key)) shared.delete(key);
}

/** How many shared modules this realm holds (for tests and metrics). */
export function sharedModuleCount(): number {
  return shared.size;
}
