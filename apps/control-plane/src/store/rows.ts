import { DEFAULT_POLICY, type ClusterRecord, type Lane, type ServicePolicyRecord, type ServiceRecord } from './records';
import type { ResourceKind, ResourceRecord } from './resources';

// Keeps multi-row inserts well under SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK = 500;

/** PostgreSQL returns int8 and count(*) as strings; revisions stay far below 2^53. */
export function toNumber(value: number | string | bigint | null): number {
  return value === null ? 0 : Number(value);
}

export function toClusterRecord(row: {
  name: string;
  revision: number | string;
  created_at: string;
  service_count: number | string | bigint | null;
}): ClusterRecord {
  return {
    name: row.name,
    revision: toNumber(row.revision),
    createdAt: row.created_at,
    serviceCount: toNumber(row.service_count),
  };
}

export function toServiceRecord(row: {
  name: string;
  version: string;
  lane: string;
  path: string;
  revision: number | string;
  updated_at: string;
  policy: string | null;
  connections: string | null;
  input_schema?: string | null;
}): ServiceRecord {
  return {
    name: row.name,
    version: row.version,
    lane: row.lane as Lane,
    path: row.path,
    revision: toNumber(row.revision),
    updatedAt: row.updated_at,
    policy: parsePolicy(row.policy),
    connections: parseConnections(row.connections),
    // Only where the query read it (ListServices): the servers' change sets have no use for it.
    ...(row.input_schema === undefined ? {} : { inputSchema: row.input_schema ?? '' }),
  };
}

export function toResourceRecord<Spec>(row: { kind: string; name: string; version: string; spec: string; revision: number | string; updated_at: string }): ResourceRecord<Spec> {
  return {
    kind: row.kind as ResourceKind,
    name: row.name,
    version: row.version,
    spec: JSON.parse(row.spec) as Spec,
    revision: toNumber(row.revision),
    updatedAt: row.updated_at,
  };
}

export function parseConnections(json: string | null): string[] {
  return json ? (JSON.parse(json) as string[]) : [];
}

export function parsePolicy(json: string | null): ServicePolicyRecord {
  return json ? { ...DEFAULT_POLICY, ...(JSON.parse(json) as Partial<ServicePolicyRecord>) } : { ...DEFAULT_POLICY };
}

/** `items` in slices small enough for one multi-row statement. */
export function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += INSERT_CHUNK) out.push(items.slice(i, i + INSERT_CHUNK));
  return out;
}

/** The timestamp rows are written with (ISO-8601 UTC). */
export function now(): string {
  return new Date().toISOString();
}
