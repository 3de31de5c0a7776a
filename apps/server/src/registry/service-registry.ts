import type { ServiceDefinition, ServiceLane } from '@laneway/sdk';
import { loadServiceModule } from '@laneway/runtime';

/** A service as pushed by the control plane. */
export interface ServiceCode {
  name: string;
  version: string;
  lane: ServiceLane;
  path: string;
  code: string;
  /** 0 = platform default. */
  policy?: { timeoutMs: number; attempts: number; concurrency: number };
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

/** One push from the control plane. */
export interface Update extends ServicesUpdate {
  /** Whether the control plane wants this server drained. */
  drained: boolean;
}

/** The outcome of {@link ServiceRegistry.prepare}: the next state, not yet visible. */
export interface PreparedUpdate {
  revision: number;
  next: Map<string, RegisteredService>;
  errors: ServiceLoadError[];
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

  prepare(update: ServicesUpdate): PreparedUpdate {
    const next = update.full ? new Map<string, RegisteredService>() : new Map(this.current);
    for (const name of update.removed) next.delete(name);
    const errors: ServiceLoadError[] = [];
    for (const spec of update.services) {
      if (spec.lane === 'cpu') {
        next.set(spec.name, { ...spec, definition: undefined });
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
    const live = new Set([...this.current.values()].map((s) => s.version));
    for (const version of this.modules.keys()) if (!live.has(version)) this.modules.delete(version);
  }

  private definitionOf(spec: ServiceCode): ServiceDefinition {
    let definitions = this.modules.get(spec.version);
    if (!definitions) {
      definitions = loadServiceModule(spec.code, { filename: spec.path });
      this.modules.set(spec.version, definitions);
    }
    const definition = definitions.find((d) => d.name === spec.name);
    if (!definition) throw new Error(`${spec.path} does not export a service named '${spec.name}'`);
    if (definition.lane !== spec.lane) {
      throw new Error(`service '${spec.name}' declares lane '${definition.lane}' but was pushed as '${spec.lane}'`);
    }
    return definition;
  }
}
