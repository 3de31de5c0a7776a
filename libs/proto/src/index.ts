// The only way into the generated code (src/gen, produced by `nx codegen proto`, never hand-edited):
// apps and libs import wire types and gRPC stubs from here.
export { Lane, WaitFor, ApplyOutcome, ServerApplyResult, ServiceError } from './gen/laneway/v1/common';
export {
  Cluster,
  CreateClusterRequest,
  GetClusterRequest,
  ListClustersRequest,
  ListClustersResponse,
  DeleteClusterRequest,
  DeleteClusterResponse,
  ClusterServiceService,
  ClusterServiceClient,
  type ClusterServiceServer,
} from './gen/laneway/v1/cluster';
export {
  SourceFile,
  DeployRequest,
  DeployedService,
  DeployResponse,
  ListServicesRequest,
  ServiceInfo,
  ListServicesResponse,
  UndeployRequest,
  UndeployResponse,
  DeployServiceService,
  DeployServiceClient,
  type DeployServiceServer,
} from './gen/laneway/v1/deploy';
export {
  InvokeRequest,
  InvokeResponse,
  InvokeAsyncResponse,
  InvokeServiceService,
  InvokeServiceClient,
  type InvokeServiceServer,
} from './gen/laneway/v1/invoke';
export {
  ListServersRequest,
  ServerInfo,
  ListServersResponse,
  ServerServiceService,
  ServerServiceClient,
  type ServerServiceServer,
} from './gen/laneway/v1/server';
export {
  SyncRequest,
  Hello,
  Ack,
  Nack,
  ServiceSpec,
  SyncResponse,
  SyncServiceService,
  SyncServiceClient,
  type SyncServiceServer,
} from './gen/laneway/v1/sync';
