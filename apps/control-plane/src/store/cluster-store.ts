import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { listAudit, writeAudit, type AuditRecordRow, type AuditScope } from './audit-log';
import { createDatabase } from './create-database';
import type { DatabaseOptions } from './create-database';
import { changesSince, applyConfig, exportState } from './cluster-state';
import { createCluster, deleteCluster, getCluster, listClusters, prepareDatabase } from './clusters';
import { dialectOf, type StoreDialect } from './dialect';
import { clusterOfJoinToken, getJoinToken, rotateJoinToken } from './join-tokens';
import {
  heartbeatServers,
  isServerDrained,
  listServers,
  recordServerApplied,
  recordServerHello,
  recordServersApplied,
  releaseServer,
  removeServer,
  setServerDrained,
} from './presence';
import type {
  ChangeSet,
  ClusterRecord,
  ConfigWrite,
  DeployedServiceRecord,
  ExportedState,
  NewServiceVersion,
  ServerHello,
  ServerRecord,
  ServiceErrorRecord,
  ServiceRecord,
  ServiceVersionRecord,
} from './records';
import { deleteResource, getResource, listResources, putResource } from './resource-rows';
import type { ResourceCheck, ResourceKind, ResourceRecord } from './resources';
import type { Db, StoreContext } from './revision';
import {
  applyPulled,
  beginHandOver,
  cancelHandOver,
  clusterOfMirrorToken,
  createMirrorToken,
  getMirrorState,
  isWritable,
  listMirrorLinks,
  mirrorChangesSince,
  promote,
  recordFollower,
  startFollowing,
  stepDown,
  stepDownDone,
  type DiscardedRecord,
  type FollowLink,
  type MirrorChangeSet,
  type MirrorRoleName,
  type MirrorStateRecord,
  type PulledChange,
  type SealPulled,
} from './mirror-state';
import { deployServices, getService, listServices, listServiceVersions, rollbackService, undeployService, type ServicePage } from './services';
import {
  createToken,
  createUser,
  deleteUser,
  ensureUser,
  getToken,
  listTokens,
  listUsers,
  pruneExpiredTokens,
  revokeToken,
  setPassword,
  setRole,
  tokenBySha256,
  userExists,
  userWithPassword,
  type ApiTokenRecord,
  type NewToken,
  type RoleName,
  type TokenOwner,
  type UserRecord,
  type UserWithPassword,
} from './users';

export type * from './records';
export { DEFAULT_POLICY } from './records';
export { ConcurrentChangeError } from './cluster-state';
export { DEFAULT_CLUSTER } from './clusters';
export { HOLDER_HEARTBEAT_MS } from './presence';
export { sameSecret } from './join-tokens';
export type { ApiTokenRecord, NewToken, RoleName, TokenOwner, UserRecord, UserWithPassword } from './users';

/**
 * Cluster state in SQL: clusters, the services each one runs (with every deployed version kept for
 * rollback), their resources, and the data-plane servers that follow it. Each cluster has a revision
 * that grows by one per change, and every services and resources row remembers the revision that last
 * touched it, so a server can ask for just what changed since the revision it last applied.
 *
 * This class is the store's one entry point; the work is done per concept in this folder (clusters.ts,
 * services.ts, resource-rows.ts, cluster-state.ts, presence.ts, join-tokens.ts, users.ts, on revision.ts's
 * transaction helpers), and what differs between PostgreSQL and SQLite is in dialect.ts.
 */
export class ClusterStore {
  /** Tells this process's own change notices from other control planes' (see {@link ChangeFeed}). */
  readonly instanceId = randomUUID();

  private readonly ctx: StoreContext;

  private constructor(readonly db: Db) {
    const dialect: StoreDialect = dialectOf(db);
    this.ctx = { db, dialect, instanceId: this.instanceId };
  }

  /** Other control planes may use this database (PostgreSQL); the embedded SQLite store is one process's. */
  get shared(): boolean {
    return this.ctx.dialect.shared;
  }

  static async open(opts: DatabaseOptions): Promise<ClusterStore> {
    const db = createDatabase(opts);
    try {
      return await ClusterStore.fromDatabase(db);
    } catch (error) {
      await db.destroy();
      throw error;
    }
  }

  /** Migrates the database and makes sure the default cluster exists. The store owns `db` from here on: close() destroys it. */
  static async fromDatabase(db: Db): Promise<ClusterStore> {
    const store = new ClusterStore(db);
    await prepareDatabase(store.ctx);
    return store;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** The cheapest round trip to the database: health probes it (rejects while it is unreachable). */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  // Clusters (clusters.ts).

  createCluster(name: string): Promise<ClusterRecord> {
    return createCluster(this.ctx, name);
  }

  getCluster(name: string): Promise<ClusterRecord> {
    return getCluster(this.ctx, name);
  }

  listClusters(): Promise<ClusterRecord[]> {
    return listClusters(this.ctx);
  }

  deleteCluster(name: string): Promise<void> {
    return deleteCluster(this.ctx, name);
  }

  // Services and their versions (services.ts).

  deployServices(
    cluster: string,
    services: NewServiceVersion[],
  ): Promise<{ revision: number; services: DeployedServiceRecord[]; delta?: { since: number; changes: ChangeSet } }> {
    return deployServices(this.ctx, cluster, services);
  }

  /** Undeploys a service; `check` (run inside the transaction) may refuse it, e.g. while a channel uses it. */
  undeployService(cluster: string, name: string, check?: ResourceCheck): Promise<{ revision: number }> {
    return undeployService(this.ctx, cluster, name, check);
  }

  listServices(cluster: string, page?: ServicePage): Promise<{ revision: number; services: ServiceRecord[]; more: boolean }> {
    return listServices(this.ctx, cluster, page);
  }

  getService(cluster: string, name: string): Promise<ServiceRecord | undefined> {
    return getService(this.ctx, cluster, name);
  }

  /** Makes an earlier version current again (`versionPrefix`: a unique prefix of at least 6 characters). */
  rollbackService(cluster: string, name: string, versionPrefix: string): Promise<{ revision: number; service: DeployedServiceRecord }> {
    return rollbackService(this.ctx, cluster, name, versionPrefix);
  }

  /** Every version a service has had in a cluster, newest first. */
  listServiceVersions(cluster: string, name: string): Promise<ServiceVersionRecord[]> {
    return listServiceVersions(this.ctx, cluster, name);
  }

  // Resources (resource-rows.ts).

  /** Creates or replaces one resource; `check` runs inside the transaction first. */
  putResource<Spec>(
    cluster: string,
    kind: ResourceKind,
    name: string,
    spec: Spec,
    mode: 'create' | 'update',
    check?: ResourceCheck,
  ): Promise<{ revision: number; record: ResourceRecord<Spec>; changed: boolean }> {
    return putResource(this.ctx, cluster, kind, name, spec, mode, check);
  }

  /** Deletes one resource (a tombstone stays for deltas); `check` may refuse it (something uses it). */
  deleteResource(cluster: string, kind: ResourceKind, name: string, check?: ResourceCheck): Promise<{ revision: number }> {
    return deleteResource(this.ctx, cluster, kind, name, check);
  }

  getResource<Spec>(cluster: string, kind: ResourceKind, name: string): Promise<ResourceRecord<Spec>> {
    return getResource<Spec>(this.ctx, cluster, kind, name);
  }

  listResources<Spec>(cluster: string, kind: ResourceKind): Promise<{ revision: number; resources: ResourceRecord<Spec>[] }> {
    return listResources<Spec>(this.ctx, cluster, kind);
  }

  // The whole cluster's state (cluster-state.ts).

  /** What changed since `sinceRevision` (everything when 0, or when the revision is ahead of ours). */
  changesSince(cluster: string, sinceRevision: number): Promise<ChangeSet> {
    return changesSince(this.ctx, cluster, sinceRevision);
  }

  /** Applies a cluster's configuration in one transaction and at most one revision (see cluster-state.ts). */
  applyConfig(cluster: string, write: ConfigWrite, expectedRevision: number, check: ResourceCheck): Promise<{ revision: number; changed: boolean }> {
    return applyConfig(this.ctx, cluster, write, expectedRevision, check);
  }

  /** Everything an export writes, read at one revision (without `withSources`, services' texts are empty). */
  exportState(cluster: string, withSources = true): Promise<ExportedState> {
    return exportState(this.ctx, cluster, withSources);
  }

  // Data-plane servers (presence.ts).

  recordServerHello(cluster: string, hello: ServerHello): Promise<void> {
    return recordServerHello(this.ctx, cluster, hello);
  }

  /** An ACK (`nack` null) of `revision`, or a NACK of `revision` (the applied revision stays). */
  recordServerApplied(cluster: string, server: string, revision: number, nack: ServiceErrorRecord[] | null): Promise<void> {
    return recordServerApplied(this.ctx, cluster, server, revision, nack);
  }

  /** ACKs of `revision` by many servers in one write; answers how many rows it updated. */
  recordServersApplied(cluster: string, servers: readonly string[], revision: number): Promise<number> {
    return recordServersApplied(this.ctx, cluster, servers, revision);
  }

  /** This control plane no longer holds the server's stream (it keeps its last-seen time). */
  releaseServer(cluster: string, server: string): Promise<void> {
    return releaseServer(this.ctx, cluster, server);
  }

  /** Keeps the servers this control plane holds fresh for the others (see HOLDER_HEARTBEAT_MS). */
  heartbeatServers(cluster: string, servers: readonly string[]): Promise<void> {
    return heartbeatServers(this.ctx, cluster, servers);
  }

  listServers(cluster: string): Promise<ServerRecord[]> {
    return listServers(this.ctx, cluster);
  }

  /** Forgets a server (its row, drain state included); the caller checked that it is not connected. */
  removeServer(cluster: string, server: string): Promise<void> {
    return removeServer(this.ctx, cluster, server);
  }

  /** Marks a server drained (or not); NOT_FOUND when the server never said hello to the cluster. */
  setServerDrained(cluster: string, server: string, drained: boolean): Promise<void> {
    return setServerDrained(this.ctx, cluster, server, drained);
  }

  isServerDrained(cluster: string, server: string): Promise<boolean> {
    return isServerDrained(this.ctx, cluster, server);
  }

  // Join tokens (join-tokens.ts).

  /** The cluster's join token, created on first use. */
  getJoinToken(cluster: string): Promise<string> {
    return getJoinToken(this.ctx, cluster);
  }

  rotateJoinToken(cluster: string): Promise<string> {
    return rotateJoinToken(this.ctx, cluster);
  }

  /** The cluster a join token belongs to, if any. */
  clusterOfJoinToken(token: string): Promise<string | undefined> {
    return clusterOfJoinToken(this.ctx, token);
  }

  // Mirroring between sites (mirror-state.ts).

  /** Source: a new mirror token (shown once, stored hashed); the cluster becomes a source. */
  createMirrorToken(cluster: string): Promise<string> {
    return createMirrorToken(this.ctx, cluster);
  }

  clusterOfMirrorToken(token: string): Promise<string | undefined> {
    return clusterOfMirrorToken(this.ctx, token);
  }

  getMirrorState(cluster: string): Promise<MirrorStateRecord> {
    return getMirrorState(this.ctx, cluster);
  }

  listMirrorLinks(): Promise<{ cluster: string; role: MirrorRoleName; stepDownPending: boolean }[]> {
    return listMirrorLinks(this.ctx);
  }

  recordFollower(cluster: string, followerId: string, followerCluster: string, appliedRevision: number): Promise<void> {
    return recordFollower(this.ctx, cluster, followerId, followerCluster, appliedRevision);
  }

  startFollowing(cluster: string, link: FollowLink, replace: boolean): Promise<void> {
    return startFollowing(this.ctx, cluster, link, replace);
  }

  applyPulled(cluster: string, change: PulledChange, seal: SealPulled): Promise<{ revision: number; changed: boolean }> {
    return applyPulled(this.ctx, cluster, change, seal);
  }

  mirrorChangesSince(cluster: string, since: number): Promise<MirrorChangeSet> {
    return mirrorChangesSince(this.ctx, cluster, since);
  }

  beginHandOver(cluster: string, epoch: number, to: string, untilMs: number): Promise<number> {
    return beginHandOver(this.ctx, cluster, epoch, to, untilMs);
  }

  cancelHandOver(cluster: string): Promise<void> {
    return cancelHandOver(this.ctx, cluster);
  }

  promote(cluster: string, opts: { epoch?: number; advertiseAddress: string; advertiseCaPem: string }): Promise<{ epoch: number; fenceRevision: number }> {
    return promote(this.ctx, cluster, opts);
  }

  stepDown(cluster: string, opts: { epoch: number; link: FollowLink; fenceRevision: number }): Promise<DiscardedRecord[]> {
    return stepDown(this.ctx, cluster, opts);
  }

  stepDownDone(cluster: string): Promise<void> {
    return stepDownDone(this.ctx, cluster);
  }

  /** Whether the cluster's schedules may fire on this site (not a follower, not handing over). */
  isWritable(cluster: string): Promise<boolean> {
    return isWritable(this.db, cluster);
  }

  // The audit log (audit-log.ts).

  /** The record of a call that committed no revision, or was refused. */
  writeAudit(scope: AuditScope, outcome: string, message: string): Promise<void> {
    return writeAudit(this.ctx, scope, outcome, message);
  }

  listAudit(opts: { cluster?: string; since?: string; limit: number; beforeId?: number }): Promise<AuditRecordRow[]> {
    return listAudit(this.db, opts);
  }

  // Users and their API tokens (users.ts).

  /** Creates the user unless it exists (first start's `admin`; two control planes may race): true when created. */
  ensureUser(username: string, passwordHash: string, role: RoleName): Promise<boolean> {
    return ensureUser(this.ctx, username, passwordHash, role);
  }

  userExists(username: string): Promise<boolean> {
    return userExists(this.ctx, username);
  }

  createUser(username: string, passwordHash: string, role: RoleName): Promise<UserRecord> {
    return createUser(this.ctx, username, passwordHash, role);
  }

  listUsers(): Promise<UserRecord[]> {
    return listUsers(this.ctx);
  }

  userWithPassword(username: string): Promise<UserWithPassword | undefined> {
    return userWithPassword(this.ctx, username);
  }

  deleteUser(username: string): Promise<void> {
    return deleteUser(this.ctx, username);
  }

  setPassword(username: string, passwordHash: string): Promise<void> {
    return setPassword(this.ctx, username, passwordHash);
  }

  setRole(username: string, role: RoleName): Promise<UserRecord> {
    return setRole(this.ctx, username, role);
  }

  createToken(token: NewToken): Promise<ApiTokenRecord> {
    return createToken(this.ctx, token);
  }

  /** One user's tokens, or every user's (undefined). */
  listTokens(username: string | undefined): Promise<ApiTokenRecord[]> {
    return listTokens(this.ctx, username);
  }

  getToken(id: string): Promise<ApiTokenRecord | undefined> {
    return getToken(this.ctx, id);
  }

  revokeToken(id: string): Promise<void> {
    return revokeToken(this.ctx, id);
  }

  /** The token with this SHA-256 and its owner's role (notes the use). */
  tokenBySha256(sha256: string): Promise<TokenOwner | undefined> {
    return tokenBySha256(this.ctx, sha256);
  }

  pruneExpiredTokens(username: string, before: string): Promise<void> {
    return pruneExpiredTokens(this.ctx, username, before);
  }
}
