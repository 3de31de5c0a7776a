import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  ClusterServiceService,
  DeployServiceService,
  InvokeServiceService,
  Lane,
  ServerServiceService,
  SyncServiceService,
  type Cluster,
  type ClusterServiceServer,
  type DeployServiceServer,
  type InvokeServiceServer,
  type ServerServiceServer,
} from '@laneway/proto';
import type { Logger } from 'pino';
import { laneToProto, type DeployPipeline } from '../deploy/deploy-pipeline';
import type { InvokeGateway } from '../invoke/invoke-gateway';
import type { ClusterRecord, ClusterStore } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { unary } from './grpc-errors';
import { requireField } from './validate';

export interface GrpcApiDeps {
  store: ClusterStore;
  hub: SyncHub;
  deploys: DeployPipeline;
  invokes: InvokeGateway;
  logger: Logger;
}

// Liveness of the sync streams: ping every 5 s, give up after 5 s without an answer, so a dead server
// shows as disconnected within about 10 s even when its TCP connection was never closed.
const SERVER_OPTIONS = {
  'grpc.keepalive_time_ms': 5000,
  'grpc.keepalive_timeout_ms': 5000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 1000,
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
  'grpc.max_send_message_length': 256 * 1024 * 1024,
};

/** Builds the gRPC server with every laneway.v1 service; `listen` binds it. */
export function createGrpcApi(deps: GrpcApiDeps): { server: Server; listen(address: string): Promise<number> } {
  const { store, hub, deploys, invokes } = deps;
  const log = deps.logger.child({ component: 'api' });
  const server = new Server(SERVER_OPTIONS);

  const clusters: ClusterServiceServer = {
    createCluster: unary('CreateCluster', log, async (req) => toCluster(await store.createCluster(req.name))),
    getCluster: unary('GetCluster', log, async (req) => toCluster(await store.getCluster(requireField('name', req.name)))),
    listClusters: unary('ListClusters', log, async () => ({ clusters: (await store.listClusters()).map(toCluster) })),
    deleteCluster: unary('DeleteCluster', log, async (req) => {
      await store.deleteCluster(requireField('name', req.name));
      return {};
    }),
  };

  const deploy: DeployServiceServer = {
    deploy: unary('Deploy', log, async (req) => {
      const outcome = await deploys.deploy(requireField('cluster', req.cluster), req.files, {
        waitFor: req.waitFor,
        timeoutMs: req.timeoutMs,
      });
      return {
        revision: outcome.revision,
        services: outcome.services.map((s) => ({ ...s, lane: laneToProto(s.lane) })),
        servers: outcome.servers,
      };
    }),
    listServices: unary('ListServices', log, async (req) => {
      const listed = await store.listServices(requireField('cluster', req.cluster));
      return {
        revision: listed.revision,
        services: listed.services.map((s) => ({
          name: s.name,
          version: s.version,
          lane: laneToProto(s.lane),
          path: s.path,
          revision: s.revision,
          updatedAt: s.updatedAt,
        })),
      };
    }),
    undeploy: unary('Undeploy', log, async (req) =>
      deploys.undeploy(requireField('cluster', req.cluster), req.name, { waitFor: req.waitFor, timeoutMs: req.timeoutMs }),
    ),
  };

  const invoke: InvokeServiceServer = {
    invoke: unary('Invoke', log, async (req) =>
      invokes.invoke(requireField('cluster', req.cluster), req.service, req.inputJson, req.timeoutMs),
    ),
    invokeAsync: unary('InvokeAsync', log, async (req) => ({
      jobId: await invokes.invokeAsync(requireField('cluster', req.cluster), req.service, req.inputJson),
    })),
  };

  const servers: ServerServiceServer = {
    listServers: unary('ListServers', log, async (req) => {
      const cluster = requireField('cluster', req.cluster);
      const [{ revision }, rows] = await Promise.all([store.getCluster(cluster), store.listServers(cluster)]);
      const connected = hub.connectedServers(cluster);
      return {
        revision,
        servers: rows.map((row) => ({
          name: row.name,
          host: row.host,
          pid: row.pid,
          lanes: row.lanes.map((l) => (l === 'cpu' ? Lane.LANE_CPU : Lane.LANE_NETWORK)),
          connected: connected.has(row.name),
          appliedRevision: row.appliedRevision,
          lastSeen: connected.has(row.name) ? new Date().toISOString() : row.lastSeen,
          lastNack: row.lastNack,
        })),
      };
    }),
  };

  server.addService(ClusterServiceService, clusters);
  server.addService(DeployServiceService, deploy);
  server.addService(InvokeServiceService, invoke);
  server.addService(ServerServiceService, servers);
  server.addService(SyncServiceService, { sync: hub.handleStream });

  return {
    server,
    listen: (address) =>
      new Promise((resolve, reject) => {
        server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
      }),
  };
}

function toCluster(record: ClusterRecord): Cluster {
  return {
    name: record.name,
    revision: record.revision,
    createdAt: record.createdAt,
    serviceCount: record.serviceCount,
  };
}
