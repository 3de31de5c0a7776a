import type { ColumnType, Generated } from 'kysely';

/**
 * PostgreSQL hands int8 columns back as strings (they can exceed 2^53); SQLite hands back numbers. The
 * store converts on read, so the select type admits both.
 */
type BigIntColumn = ColumnType<number | string, number | undefined, number>;

/** 'network' | 'cpu', kept as text so adding a lane needs no migration. */
type LaneColumn = string;

export interface ClustersTable {
  id: Generated<number>;
  name: string;
  revision: BigIntColumn;
  /** ISO-8601 UTC. */
  created_at: string;
  /** Token servers present to join this cluster; null until first asked for. */
  join_token: string | null;
  /** 'standalone' | 'source' | 'follower' (migration 0008). */
  mirror_role: ColumnType<string, string | undefined, string>;
  /** The fencing number: raised by every promotion. */
  epoch: ColumnType<number | string, number | undefined, number>;
  /** A follower's source, as the refusal of a direct change names it: "cluster 'c' at HOST:PORT". */
  mirror_source: ColumnType<string, string | undefined, string>;
  /** ISO-8601 UTC: a source handing over refuses writes until then; null when not handing over. */
  handover_until: ColumnType<string | null, string | null | undefined, string | null>;
  handover_to: ColumnType<string, string | undefined, string>;
}

/** A follower's link to its source, or a promoted site's to the source it replaced (see migration 0008). */
export interface MirrorLinksTable {
  cluster_id: number;
  source_address: string;
  source_cluster: string;
  /** Sealed with this site's key. */
  token: string;
  ca_pem: ColumnType<string, string | undefined, string>;
  applied_source_revision: BigIntColumn;
  step_down_pending: ColumnType<number, number | undefined, number>;
  fence_revision: BigIntColumn;
  advertise_address: ColumnType<string, string | undefined, string>;
  advertise_ca_pem: ColumnType<string, string | undefined, string>;
  updated_at: string;
}

export interface MirrorTokensTable {
  token_sha256: string;
  cluster_id: number;
  created_at: string;
}

export interface MirrorFollowersTable {
  cluster_id: number;
  follower_id: string;
  follower_cluster: string;
  applied_revision: BigIntColumn;
  last_seen: string;
}

export interface MirrorDiscardedTable {
  cluster_id: number;
  kind: string;
  name: string;
  revision: BigIntColumn;
  epoch: BigIntColumn;
  discarded_at: string;
}

/** Every version ever deployed, so a rollback can reuse compiled code without the source tree. */
export interface ServiceVersionsTable {
  cluster_id: number;
  name: string;
  /** Content hash. */
  version: string;
  lane: LaneColumn;
  path: string;
  source: string;
  code: string;
  created_at: string;
  /** JSON of ServicePolicyRecord. */
  policy: ColumnType<string, string | undefined, string>;
  /** JSON array of the connection names the version declares; null before migration 0005. */
  connections: ColumnType<string | null, string | undefined, string>;
  /** JSON object of path -> source of the other files its module set holds; null when none (or before migration 0006). */
  sources: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON Schema (JSON text) of the input; '' when the service has none (or before migration 0011). */
  input_schema: ColumnType<string, string | undefined, string>;
}

/** What each cluster currently runs. Undeployed services stay as tombstones so deltas can report them. */
export interface ServicesTable {
  cluster_id: number;
  name: string;
  version: string;
  lane: LaneColumn;
  path: string;
  /** Cluster revision at which this row last changed. */
  revision: BigIntColumn;
  /** 0 or 1; integers rather than booleans so both databases agree. */
  deleted: number;
  updated_at: string;
}

export interface ServersTable {
  cluster_id: number;
  name: string;
  host: string;
  pid: number;
  /** Comma-separated lanes. */
  lanes: string;
  applied_revision: BigIntColumn;
  last_seen: string;
  /** JSON array of { service, message } from the last rejected apply, or null after an ack. */
  last_nack: string | null;
  drained: ColumnType<number, number | undefined, number>;
  /** Instance id of the control plane holding the server's sync stream; null when none does. */
  control_plane: ColumnType<string | null, string | null | undefined, string | null>;
  last_nack_revision: BigIntColumn;
  /** The channel listener's HOST:PORT from the last hello; '' when the server has none. */
  http_address: ColumnType<string, string | undefined, string>;
}

/** The cluster's typed resources other than services; tombstones (deleted = 1) stay for deltas. */
export interface ResourcesTable {
  cluster_id: number;
  /** 'channel', ... (text, so a new kind needs no migration). */
  kind: string;
  name: string;
  /** Content hash of `spec`. */
  version: string;
  /** JSON of the kind's spec. */
  spec: string;
  /** Cluster revision at which this row last changed. */
  revision: BigIntColumn;
  deleted: number;
  updated_at: string;
}

export interface Database {
  clusters: ClustersTable;
  service_versions: ServiceVersionsTable;
  services: ServicesTable;
  servers: ServersTable;
  resources: ResourcesTable;
  mirror_links: MirrorLinksTable;
  mirror_tokens: MirrorTokensTable;
  mirror_followers: MirrorFollowersTable;
  mirror_discarded: MirrorDiscardedTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
}

/** One audited call (migration 0009). */
export interface AuditLogTable {
  id: Generated<number | string>;
  at: string;
  actor: string;
  peer: string;
  rpc: string;
  cluster: string;
  kind: string;
  name: string;
  revision_before: BigIntColumn;
  revision_after: BigIntColumn;
  outcome: string;
  message: string;
  trace_id: string;
}

/** A user of the API (migration 0010). */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** `scrypt$N$r$p$SALT$HASH` (base64url): the cost it was hashed with travels with it. */
  password_hash: string;
  /** 'viewer' | 'operator' | 'admin'. */
  role: string;
  created_at: string;
  updated_at: string;
}

/** A user's API token, by its SHA-256 (migration 0010). */
export interface ApiTokensTable {
  id: string;
  user_id: number;
  name: string;
  token_sha256: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}
