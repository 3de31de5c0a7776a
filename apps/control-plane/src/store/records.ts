import type { ResourceKind, ResourceRecord, ResourceRef } from './resources';

/** The store's public records: what callers give it and what it hands back. */
export type Lane = 'network' | 'cpu';

export interface ClusterRecord {
  name: string;
  revision: number;
  createdAt: string;
  serviceCount: number;
}

/** Limits a service declares; 0 = the platform default. */
export interface ServicePolicyRecord {
  timeoutMs: number;
  attempts: number;
  concurrency: number;
}

export const DEFAULT_POLICY: Readonly<ServicePolicyRecord> = Object.freeze({ timeoutMs: 0, attempts: 0, concurrency: 0 });

export interface NewServiceVersion {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  source: string;
  code: string;
  policy: ServicePolicyRecord;
  /** The outgoing connections the service declares; each must exist in the cluster. */
  connections: string[];
  /** The other deployed files its module set holds (helpers, bundled packages), by path; kept for export. */
  sources?: Record<string, string>;
  /** When it was first deployed (ISO-8601); default: now. A version mirrored from another site keeps the source's time. */
  createdAt?: string;
  /** JSON Schema (JSON text) of its input, when its `input` gives one (Standard JSON Schema). */
  inputSchema?: string;
}

/** What one ApplyConfig writes: only what differs from the cluster. */
export interface ConfigWrite {
  /** Versions to make current (new or changed services). */
  services: NewServiceVersion[];
  /** Services to undeploy. */
  removeServices: string[];
  /** Resources to create or replace, specs as stored (secrets sealed). */
  puts: { kind: ResourceKind; name: string; spec: unknown }[];
  deletes: ResourceRef[];
}

export interface ExportedService {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  revision: number;
  source: string;
  /** The other files its module set holds, by path (helpers, node_modules/<pkg>.js). */
  sources: Record<string, string>;
}

export interface ExportedState {
  revision: number;
  services: ExportedService[];
  resources: ResourceRecord[];
}

export interface DeployedServiceRecord {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  changed: boolean;
  policy: ServicePolicyRecord;
}

export interface ServiceRecord {
  name: string;
  version: string;
  lane: Lane;
  path: string;
  revision: number;
  updatedAt: string;
  policy: ServicePolicyRecord;
  connections: string[];
  /** JSON Schema (JSON text) of the current version's input; '' or unset when none (only ListServices reads it). */
  inputSchema?: string;
}

export interface ServiceVersionRecord {
  version: string;
  lane: Lane;
  path: string;
  createdAt: string;
  current: boolean;
}

export interface ServiceWithCode extends ServiceRecord {
  code: string;
}

export interface ChangeSet {
  revision: number;
  full: boolean;
  services: ServiceWithCode[];
  removed: string[];
  /** Other resources changed since (all of them when `full`), and those removed since (deltas only). */
  resources: ResourceRecord[];
  removedResources: ResourceRef[];
}

export interface ServerHello {
  name: string;
  host: string;
  pid: number;
  lanes: Lane[];
  appliedRevision: number;
  /** The channel listener's HOST:PORT; '' when the server has none. */
  httpAddress: string;
}

export interface ServiceErrorRecord {
  /** The resource's name (a service's when `kind` is ''). */
  service: string;
  message: string;
  /** '' for a service, else the resource's kind ('channel', ...). */
  kind: string;
}

export interface ServerRecord {
  name: string;
  host: string;
  pid: number;
  lanes: Lane[];
  appliedRevision: number;
  lastSeen: string;
  lastNack: ServiceErrorRecord[];
  /** The revision the last NACK rejected (0: none since the last ACK). */
  lastNackRevision: number;
  drained: boolean;
  /** The channel listener's HOST:PORT from the server's last hello; '' when it has none. */
  httpAddress: string;
  /** Another control plane sharing this database holds the server's stream (and kept it fresh). */
  connectedElsewhere: boolean;
  /** The id (ClusterStore.instanceId) of the control plane that last held its stream; '' when released. */
  controlPlane: string;
}
