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

/**
 * The outcome of {@link ServiceRegistry.prepare}: the next state, not yet visible. A delta push holds
 * only what it changes, so that preparing and committing it costs the size of the push, not of the
 * cluster (a cluster of 100,000 services took a copy of all of them per push before).
 */
export interface PreparedUpdate {
  revision: number;
  /** A full snapshot: `changed` is the whole next state. */
  full: boolean;
  /** The services this push adds or replaces, by name (for a full push, all of them). */
  changed: Map<string, RegisteredService>;
  /** Names of services the current state holds that this push removes (none for a full push). */
  removed: string[];
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
  /** The CPU-lane services of `current` (the pool is given the whole set on every push that changes it). */
  private cpu = new Map<string, RegisteredService>();
  /** How many services of `current` run each version: a module is dropped once none does. */
  private versionUses = new Map<string, number>();
  /** Versions evaluated for a push not committed (yet): dropped at the next commit unless it uses them. */
  private uncommitted = new Set<string>();
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

  /** All services of one lane in the committed state, or in the state `prepared` would commit. */
  ofLane(lane: ServiceLane, prepared?: PreparedUpdate): RegisteredService[] {
    const out: RegisteredService[] = [];
    if (prepared?.full) {
      for (const s of prepared.changed.values()) if (s.lane === lane) out.push(s);
      return out;
    }
    const base = lane === 'cpu' ? this.cpu.values() : this.current.values();
    if (!prepared) {
      for (const s of base) if (s.lane === lane) out.push(s);
      return out;
    }
    const removed = new Set(prepared.removed);
    for (const s of base) {
      if (removed.has(s.name)) continue;
      const next = prepared.changed.get(s.name) ?? s;
      if (next.lane === lane) out.push(next);
    }
    for (const s of prepared.changed.values()) if (s.lane === lane && !this.current.has(s.name)) out.push(s);
    // A service that moved to this lane from the other one (it is not in `base`).
    if (lane === 'cpu') for (const s of prepared.changed.values()) if (s.lane === 'cpu' && this.current.get(s.name)?.lane === 'network') out.push(s);
    return out;
  }

  /**
   * The services of the state `prepared` would commit that may break a rule the current state kept:
   * only those the push adds or replaces, unless `all` (the push took away something that services
   * it leaves alone might use, e.g. a connection), then every one.
   */
  touched(prepared: PreparedUpdate, all: boolean): Iterable<RegisteredService> {
    if (prepared.full || !all) return prepared.changed.values();
    return this.ofLane('network', prepared).concat(this.ofLane('cpu', prepared));
  }

  /** Evaluates the network-lane versions this server does not hold yet and builds the next state. */
  async prepare(update: ServicesUpdate): Promise<PreparedUpdate> {
    const fresh = new Map<string, ServiceCode>();
    for (const spec of update.services) {
      if (spec.lane === 'network' && !this.modules.has(spec.version) && !fresh.has(spec.version)) fresh.set(spec.version, spec);
    }
    const failed = await this.evaluate([...fresh.values()]);
    for (const version of fresh.keys()) if (this.modules.has(version)) this.uncommitted.add(version);
    const errors: ServiceLoadError[] = [];
    const changed = new Map<string, RegisteredService>();
    for (const spec of update.services) {
      if (spec.lane === 'cpu') {
        changed.set(spec.name, { ...spec, definition: undefined });
        continue;
      }
      const failure = failed.get(spec.version);
      if (failure !== undefined) {
        errors.push({ service: spec.name, message: failure });
        continue;
      }
      try {
        const definition = this.definitionOf(spec);
        changed.set(spec.name, { ...spec, definition });
      } catch (err) {
        errors.push({ service: spec.name, message: (err as Error).message });
      }
    }
    const removed = update.full ? [] : update.removed.filter((name) => this.current.has(name) && !changed.has(name));
    return { revision: update.revision, full: update.full, changed, removed, errors };
  }

  /**
   * Makes `prepared` the current state. A delta is applied to the current map in one synchronous
   * pass, so an invocation (which runs on this thread too) sees either the old set or the new one.
   */
  commit(prepared: PreparedUpdate): void {
    const released: string[] = [];
    if (prepared.full) {
      for (const version of this.versionUses.keys()) released.push(version);
      this.current = prepared.changed;
      this.cpu = new Map();
      this.versionUses = new Map();
      for (const s of this.current.values()) {
        if (s.lane === 'cpu') this.cpu.set(s.name, s);
        this.versionUses.set(s.version, (this.versionUses.get(s.version) ?? 0) + 1);
      }
    } else {
      for (const name of prepared.removed) {
        const old = this.current.get(name);
        if (!old) continue;
        this.current.delete(name);
        this.cpu.delete(name);
        if (this.release(old.version)) released.push(old.version);
      }
      for (const s of prepared.changed.values()) {
        const old = this.current.get(s.name);
        this.current.set(s.name, s);
        if (s.lane === 'cpu') this.cpu.set(s.name, s);
        else this.cpu.delete(s.name);
        this.versionUses.set(s.version, (this.versionUses.get(s.version) ?? 0) + 1);
        if (old && this.release(old.version)) released.push(old.version);
      }
    }
    this.appliedRevision = prepared.revision;
    for (const version of released) if (!this.versionUses.has(version)) this.modules.delete(version);
    for (const version of this.uncommitted) if (!this.versionUses.has(version)) this.modules.delete(version);
    this.uncommitted.clear();
    // Helpers (relative imports) no network-lane service of this state uses any more; with none
    // held, there is nothing to look for (and no pass over every service of a large cluster).
    if (sharedModuleCount()) retainSharedModules(this.ofLane('network').flatMap((s) => moduleSetKeys(s.code)));
  }

  /** One service fewer runs `version`: true when none does any more. */
  private release(version: string): boolean {
    const uses = (this.versionUses.get(version) ?? 0) - 1;
    if (uses > 0) {
      this.versionUses.set(version, uses);
      return false;
    }
    this.versionUses.delete(version);
    return true;
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
