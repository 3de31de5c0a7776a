import type { ServiceDefinition, ServiceLane } from '@laneway/sdk';
import { evaluateServiceModules, moduleSetKeys, retainSharedModules, sharedModuleCount } from '@laneway/runtime';
import { describeLoadFailure } from '../load/describe-load-failure';
import type { LoadChecker } from '../load/load-checker';
import type { ResourcesUpdate } from '../resources/resource-set';

/** A service as pushed by the control plane. */
export interface ServiceCode {
  name: string;
  version: string;
  lane: ServiceLane;
  path: string;
  code: string;
  /** 0 = platform default. */
  policy?: { timeoutMs: number; attempts: number; concurrency: number };
  /** The outgoing connections the service declares. */
  connections?: readonly string[];
}

export interface RegisteredService extends ServiceCode {
  /** Loaded on the main thread for network-lane services only; CPU-lane code lives in the pool. */
  definition: ServiceDefinition | undefined;
}

export interface ServiceLoadError {
  service: string;
  message: string;
}

/** The services part of a push. */
export interface ServicesUpdate {
  revision: number;
  full: boolean;
  services: ServiceCode[];
  removed: string[];
}

/** One push from the control plane: services, the other resources, and the drain flag. */
export interface Update extends ServicesUpdate, ResourcesUpdate {
  /** Whether the control plane wants this server drained. */
  drained: boolean;
}

/** The outcome of {@link ServiceRegistry.prepare}: the next state, not yet visible. */
export interface PreparedUpdate {
  revision: number;
  next: Map<string, RegisteredService>;
  errors: ServiceLoadError[];
}

export interface ServiceRegistryOptions {
  /** Bound on each module's top-level code on the main thread (LANEWAY_LOAD_TIMEOUT_MS); default 2000. */
  loadTimeoutMs?: number;
  /**
   * Evaluates new versions in a thread with a heap limit first; only those that pass are evaluated
   * here. Without one, a module that exhausts the heap or calls `process.exit` ends the server.
   */
  checker?: LoadChecker;
}

/**
 * The services this server runs. Updates are prepared off to the side and committed with one
 * assignment, so an invocation sees either the old set or the new one, and a failed update leaves the
 * last good set serving. An in-flight invocation keeps the definition it started with.
 */
export class ServiceRegistry {
  private current = new Map<string, RegisteredService>();
  private appliedRevision = 0;
  // Evaluated modules by version: a file exporting several services is evaluated once, and an
  // unchanged version is never evaluated again.
  private modules = new Map<string, ServiceDefinition[]>();
  private readonly loadTimeoutMs: number;

  constructor(private readonly options: ServiceRegistryOptions = {}) {
    this.loadTimeoutMs = options.loadTimeoutMs ?? 2000;
  }

  get revision(): number {
    return this.appliedRevision;
  }

  get size(): number {
    return this.current.size;
  }

  get(name: string): RegisteredService | undefined {
    return this.current.get(name);
  }

  /** All services of one lane in the committed state. */
  ofLane(lane: ServiceLane, state: ReadonlyMap<string, RegisteredService> = this.current): RegisteredService[] {
    return [...state.values()].filter((s) => s.lane === lane);
  }

  /** Evaluates the network-lane versions this server does not hold yet and builds the next state. */
  async prepare(update: ServicesUpdate): Promise<PreparedUpdate> {
    const next = update.full ? new Map<string, RegisteredService>() : new Map(this.current);
    for (const name of update.removed) next.delete(name);
    const fresh = new Map<string, ServiceCode>();
    for (const spec of update.services) {
      if (spec.lane === 'network' && !this.modules.has(spec.version) && !fresh.has(spec.version)) fresh.set(spec.version, spec);
    }
    const failed = await this.evaluate([...fresh.values()]);
    const errors: ServiceLoadError[] = [];
    for (const spec of update.services) {
      if (spec.lane === 'cpu') {
        next.set(spec.name, { ...spec, definition: undefined });
        continue;
      }
      const failure = failed.get(spec.version);
      if (failure !== undefined) {
        errors.push({ service: spec.name, message: failure });
        continue;
      }
      try {
        const definition = this.definitionOf(spec);
        next.set(spec.name, { ...spec, definition });
      } catch (err) {
        errors.push({ service: spec.name, message: (err as Error).message });
      }
    }
    return { revision: update.revision, next, errors };
  }

  commit(prepared: PreparedUpdate): void {
    this.current = prepared.next;
    this.appliedRevision = prepared.revision;
    const live = new Set<string>();
    for (const s of this.current.values()) live.add(s.version);
    for (const version of this.modules.keys()) if (!live.has(version)) this.modules.delete(version);
    // Helpers (relative imports) no network-lane service of this state uses any more; with none
    // held, there is nothing to look for (and no pass over every service of a large cluster).
    if (sharedModuleCount()) retainSharedModules(this.ofLane('network').flatMap((s) => moduleSetKeys(s.code)));
  }

  /**
   * Evaluates one spec per new version and caches what loaded; returns the NACK message of each
   * version that did not. With a checker, each chunk it passed is evaluated here while it checks the
   * next one.
   */
  private async evaluate(specs: readonly ServiceCode[]): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    if (!specs.length) return failed;
    const timeoutMs = this.loadTimeoutMs;
    const sources = specs.map((spec) => ({ code: spec.code, filename: spec.path }));
    const evaluateHere = (indices: readonly number[]): void => {
      const outcomes = evaluateServiceModules(
        indices.map((i) => sources[i]!),
        { timeoutMs },
      );
      outcomes.forEach((outcome, n) => {
        const spec = specs[indices[n]!]!;
        if (outcome.ok) this.modules.set(spec.version, outcome.services);
        else failed.set(spec.version, describeLoadFailure(spec.path, { kind: 'module', error: outcome.error, timeoutMs }));
      });
    };
    const { checker } = this.options;
    if (!checker) {
      evaluateHere(specs.map((_, i) => i));
      return failed;
    }
    await checker.check(sources, (verdicts) => {
      const passed: number[] = [];
      for (const { index, failure } of verdicts) {
        if (failure === undefined) passed.push(index);
        else failed.set(specs[index]!.version, failure);
      }
      if (passed.length) evaluateHere(passed);
    });
    return failed;
  }

  private definitionOf(spec: ServiceCode): ServiceDefinition {
    const definitions = this.modules.get(spec.version);
    if (!definitions) throw new Error(`${spec.path}: version ${spec.version} was not loaded`);
    const definition = definitions.find((d) => d.name === spec.name);
    if (!definition) throw new Error(`${spec.path} does not export a service named '${spec.name}'`);
    if (definition.lane !== spec.lane) {
      throw new Error(`service '${spec.name}' declares lane '${definition.lane}' but was pushed as '${spec.lane}'`);
    }
    return definition;
  }
}
