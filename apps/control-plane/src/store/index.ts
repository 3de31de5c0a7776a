export { ClusterStore, DEFAULT_CLUSTER, DEFAULT_POLICY, sameSecret } from './cluster-store';
export type {
  ChangeSet,
  ClusterRecord,
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
export { createDatabase } from './create-database';
export type { DatabaseOptions } from './create-database';
export { migrationProvider, migrations } from './migrations';
export type { Database } from './schema';
