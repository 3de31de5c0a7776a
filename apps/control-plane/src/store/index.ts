export { ClusterStore, ConcurrentChangeError, DEFAULT_CLUSTER, DEFAULT_POLICY, HOLDER_HEARTBEAT_MS, sameSecret } from './cluster-store';
export type {
  ApiTokenRecord,
  NewToken,
  RoleName,
  TokenOwner,
  UserRecord,
  UserWithPassword,
  ChangeSet,
  ClusterRecord,
  ConfigWrite,
  ExportedService,
  ExportedState,
  DeployedServiceRecord,
  Lane,
  NewServiceVersion,
  ServerHello,
  ServerRecord,
  ServiceErrorRecord,
  ServiceRecord,
  ServiceWithCode,
  ServicePolicyRecord,
  ServiceVersionRecord,
} from './cluster-store';
export { RESOURCE_KINDS, specVersion } from './resources';
export type { ResourceCheck, ResourceKind, ResourceReader, ResourceRecord, ResourceRef } from './resources';
export { ChangeFeed, CHANGE_CHANNEL, type ChangeHandlers, type ChangeNotice } from './change-feed';
export { createDatabase } from './create-database';
export type { DatabaseOptions } from './create-database';
export { migrationProvider, migrations } from './migrations';
export type { Database } from './schema';
export type {
  DiscardedRecord,
  FollowLink,
  MirrorChangeSet,
  MirroredVersion,
  MirrorFollowerRecord,
  MirrorLinkRecord,
  MirrorRoleName,
  MirrorStateRecord,
  PulledChange,
  SealPulled,
} from './mirror-state';
export { auditScope, type AuditRecordRow, type AuditScope } from './audit-log';
