import { createHash } from 'node:crypto';

/** Kinds of cluster resources other than services (services keep their own rows, with history). */
export const RESOURCE_KINDS = ['channel', 'security', 'connection', 'schedule'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** One resource as stored: its spec is the kind's own shape (e.g. a ChannelSpecRecord). */
export interface ResourceRecord<Spec = unknown> {
  kind: ResourceKind;
  name: string;
  /** Content hash of the spec: an update that changes nothing bumps no revision. */
  version: string;
  spec: Spec;
  revision: number;
  updatedAt: string;
}

export interface ResourceRef {
  kind: ResourceKind;
  name: string;
}

/** Reads the cluster's state inside a change's transaction, so a check sees what the change commits against. */
export interface ResourceReader {
  listResources<Spec>(kind: ResourceKind): Promise<ResourceRecord<Spec>[]>;
  /** Whether a service of that name is deployed (not undeployed). */
  serviceExists(name: string): Promise<boolean>;
  /** The deployed services whose current version declares the connection `name`, sorted. */
  servicesUsingConnection(name: string): Promise<string[]>;
}

/** A check run inside the change's transaction; throws to refuse the change (nothing is written). */
export type ResourceCheck = (reader: ResourceReader) => Promise<void>;

/** The version of a spec: the first 20 hex digits of the SHA-256 of its canonical JSON. */
export function specVersion(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 20);
}

/** JSON with object keys sorted, so two equal specs give one text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
