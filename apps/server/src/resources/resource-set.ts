/** A resource of the cluster other than a service, as pushed (its spec is the kind's wire message). */
export interface PushedResource<Spec = unknown> {
  kind: string;
  name: string;
  version: string;
  spec: Spec;
}

/** The resource part of a push: the whole set when `full`, else what changed and what went away. */
export interface ResourcesUpdate {
  full: boolean;
  resources: PushedResource[];
  removedResources: { kind: string; name: string }[];
}

/** The next resources, by kind and name, not yet visible. */
export type ResourceState = ReadonlyMap<string, ReadonlyMap<string, PushedResource>>;

/**
 * The resources this server holds, of every kind. Like the service registry, a push is prepared off
 * to the side (apply steps check it) and committed with one assignment, or dropped whole.
 */
export class ResourceSet {
  private current: ResourceState = new Map();

  /** The committed resources of one kind, by name. */
  ofKind<Spec>(kind: string, state: ResourceState = this.current): PushedResource<Spec>[] {
    return [...(state.get(kind)?.values() ?? [])] as PushedResource<Spec>[];
  }

  /** One committed resource, or undefined. */
  get<Spec>(kind: string, name: string): PushedResource<Spec> | undefined {
    return this.current.get(kind)?.get(name) as PushedResource<Spec> | undefined;
  }

  prepare(update: ResourcesUpdate): ResourceState {
    const next = new Map<string, Map<string, PushedResource>>();
    if (!update.full) for (const [kind, byName] of this.current) next.set(kind, new Map(byName));
    for (const { kind, name } of update.removedResources) next.get(kind)?.delete(name);
    for (const resource of update.resources) {
      let byName = next.get(resource.kind);
      if (!byName) next.set(resource.kind, (byName = new Map()));
      byName.set(resource.name, resource);
    }
    return next;
  }

  commit(next: ResourceState): void {
    this.current = next;
  }
}
