import { Lane, type PullResponse, type Resource, type ServiceVersionSpec } from '@laneway/proto';
import type { MirrorChangeSet, MirroredVersion, PulledChange, ResourceKind, ResourceRecord } from '../store';
import { RESOURCE_KINDS } from '../store';
import { refToWire, resourceToWire, serviceToWire } from './resource-wire';
import { InvalidArgumentError } from '../errors';

// The mirror link's messages (MirrorService.Pull): what a source reads from its store becomes a PullResponse, and what a
// follower receives becomes the change it applies. Resources travel as the sync stream's `Resource`.

function versionToWire(v: MirroredVersion): ServiceVersionSpec {
  return {
    spec: serviceToWire(v),
    source: v.source,
    sources: v.sources,
    createdAt: v.createdAt,
    inputSchema: v.inputSchema ?? '',
  };
}

function versionFromWire(w: ServiceVersionSpec): MirroredVersion {
  const spec = w.spec;
  if (!spec || !spec.name || !spec.version) throw new InvalidArgumentError('services.spec', 'the source sent a service version without a name or version');
  return {
    name: spec.name,
    version: spec.version,
    lane: spec.lane === Lane.LANE_CPU ? 'cpu' : 'network',
    path: spec.path,
    code: spec.code,
    source: w.source,
    sources: { ...w.sources },
    policy: { timeoutMs: spec.policy?.timeoutMs ?? 0, attempts: spec.policy?.attempts ?? 0, concurrency: spec.policy?.concurrency ?? 0 },
    connections: [...spec.connections],
    createdAt: w.createdAt,
    inputSchema: w.inputSchema,
  };
}

/** A change set as the source sends it; `open` gives each resource with its secret fields in the clear. */
export function changeToWire(changes: MirrorChangeSet, open: (record: ResourceRecord) => ResourceRecord, committedAtMs: number): PullResponse {
  return {
    revision: changes.revision,
    epoch: changes.epoch,
    full: changes.full,
    services: changes.services.map(versionToWire),
    history: changes.history.map(versionToWire),
    removed: changes.removed,
    resources: changes.resources.map((r) => resourceToWire(open(r))),
    removedResources: changes.removedResources.map(refToWire),
    committedAtMs,
  };
}

function kindOf(kind: string): ResourceKind {
  if (!(RESOURCE_KINDS as readonly string[]).includes(kind)) throw new InvalidArgumentError('resources.kind', `the source sent a resource of unknown kind '${kind}'`);
  return kind as ResourceKind;
}

function specOf(r: Resource): unknown {
  const spec = r.channel ?? r.security ?? r.connection ?? r.schedule;
  if (spec === undefined) throw new InvalidArgumentError('resources.spec', `the source sent ${r.kind} '${r.name}' without its spec`);
  // As the source stored it: a decoded message holds unset oneof members as undefined.
  return JSON.parse(JSON.stringify(spec)) as unknown;
}

/** What a follower applies from one PullResponse. */
export function changeFromWire(response: PullResponse): PulledChange {
  return {
    sourceRevision: response.revision,
    epoch: response.epoch,
    full: response.full,
    services: response.services.map(versionFromWire),
    history: response.history.map(versionFromWire),
    removed: [...response.removed],
    resources: response.resources.map((r) => ({ kind: kindOf(r.kind), name: r.name, spec: specOf(r) })),
    removedResources: response.removedResources.map((r) => ({ kind: kindOf(r.kind), name: r.name })),
  };
}
