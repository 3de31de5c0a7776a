import { Server, ServerCredentials, type Metadata } from '@grpc/grpc-js';
import {
  ChannelServiceService,
  ClusterServiceService,
  ConfigServiceService,
  ConnectionServiceService,
  ScheduleServiceService,
  SecretServiceService,
  SecurityServiceService,
  DeployServiceService,
  InvokeServiceService,
  JobState,
  MirrorServiceService,
  AuditServiceService,
  Lane,
  ServerServiceService,
  SyncServiceService,
  UserServiceService,
  HealthService,
  ServerReflectionV1AlphaService,
  ServerReflectionV1Service,
  type Cluster,
  type ClusterServiceServer,
  type DeployServiceServer,
  type DeployedService,
  type InvokeServiceServer,
  type JobInfo,
  type ServerInfo,
  type ServerServiceServer,
} from '@laneway/proto';
import { tracing, type AsyncJobInfo } from '@laneway/lanes';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator';
import { laneToProto, type DeployPipeline } from '../deploy/deploy-pipeline';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors';
import type { InvokeGateway } from '../invoke/invoke-gateway';
import { maxReceiveMessageBytes, type Limits } from '../limits';
import type { ControlPlaneMetrics } from '../metrics/control-plane-metrics';
import { TrafficScraper } from '../metrics/traffic-scraper';
import type { ClusterRecord, ClusterStore, DeployedServiceRecord, ServerRecord } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { SyncServiceDefinition } from '../sync/sync-service';
import type { ChannelCatalog } from '../channels/channel-catalog';
import type { SecurityCatalog } from '../security/security-catalog';
import type { ConnectionCatalog } from '../connections/connection-catalog';
import type { ScheduleCatalog } from '../schedules/schedule-catalog';
import { channelHandlers } from './channel-handlers';
import { configHandlers } from './config-handlers';
import type { ClusterConfig } from '../cluster-config/cluster-config';
import { connectionHandlers } from './connection-handlers';
import { scheduleHandlers } from './schedule-handlers';
import { securityHandlers } from './security-handlers';
import { secretHandlers } from '../secrets/secret-handlers';
import type { SecretKeyRotation } from '../secrets/secret-key-rotation';
import { unary } from './grpc-errors';
import { GrpcHealth, serviceName } from './grpc-health';
import { reflectionHandler } from './grpc-reflection';
import { RequestChecks } from '../checks/request-checks';
import type { MirrorCoordinator } from '../mirror/mirror-coordinator';
import type { FollowerSessions } from '../sync/follower-sessions';
import { mirrorHandlers } from './mirror-handlers';
import { auditHandlers } from './audit-handlers';
import { instrumentAudit } from './audit-middleware';
import { instrumentRoles } from './role-middleware';
import { userHandlers } from './user-handlers';
import { LoginLimiter } from '../auth/login-limiter';
import { instrumentTracing } from './trace-middleware';

export interface GrpcApiDeps {
  store: ClusterStore;
  hub: SyncHub;
  deploys: DeployPipeline;
  invokes: InvokeGateway;
  channels: ChannelCatalog;
  security: SecurityCatalog;
  connections: ConnectionCatalog;
  schedules: ScheduleCatalog;
  /** RotateSecretKey. */
  secrets: SecretKeyRotation;
  /** Export and Apply of a cluster's configuration. */
  config: ClusterConfig;
  /** MirrorService: following another site, promotion, and the link's source side. */
  mirror: MirrorCoordinator;
  followers: FollowerSessions;
  auth: Authenticator;
  logger: Logger;
  /** What one call may carry (config.limits); gRPC's own bound on a message follows from them. */
  limits: Readonly<Limits>;
  /** Times every unary RPC (rpc_server_call_duration_seconds); absent: not measured. */
  metrics?: ControlPlaneMetrics;
}

/**
 * Liveness of the sync streams: ping every 5 s, give up after 5 s without an answer, so a dead server
 * shows as disconnected within about 10 s even when its TCP connection was never closed. A received
 * message may be as large as the largest request within the limits, plus headroom: a request over a
 * limit that fits is answered with our message naming the limit, a larger one with gRPC's own
 * RESOURCE_EXHAUSTED.
 */
function serverOptions(limits: Readonly<Limits>): Record<string, number> {
  return {
    'grpc.keepalive_time_ms': 5000,
    'grpc.keepalive_timeout_ms': 5000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 1000,
    'grpc.max_receive_message_length': maxReceiveMessageBytes(limits),
    'grpc.max_send_message_length': 256 * 1024 * 1024,
  };
}

const INVOKE_HINT = 'give the name of the service to invoke';
const JOB_HINT = 'give the job_id InvokeAsync returned';

const JOB_STATES: Record<AsyncJobInfo['state'], JobState> = {
  waiting: JobState.JOB_STATE_WAITING,
  active: JobState.JOB_STATE_ACTIVE,
  delayed: JobState.JOB_STATE_DELAYED,
  completed: JobState.JOB_STATE_COMPLETED,
  failed: JobState.JOB_STATE_FAILED,
  unknown: JobState.JOB_STATE_UNSPECIFIED,
};

/** The most services one ListServices page holds (a larger page_size is cut to it). */
const MAX_SERVICES_PAGE = 1000;

/**
 * Whether a server has a live stream, here (`local`: the names this control plane holds) or on another
 * control plane sharing the store, and when it was last heard from (now, while held here).
 */
function presence(row: ServerRecord, local: Set<string>): { connected: boolean; lastSeen: string } {
  const here = local.has(row.name);
  return { connected: here || row.connectedElsewhere, lastSeen: here ? new Date().toISOString() : row.lastSeen };
}

/** Builds the gRPC server with every laneway.v1 service; `listen` binds it. */
export function createGrpcApi(deps: GrpcApiDeps): {
  server: Server;
  /** Binds `address` (plaintext unless `credentials` say otherwise) and starts the health probe; resolves to the port. */
  listen(address: string, credentials?: ServerCredentials): Promise<number>;
  /** grpc.health.v1.Health; stop() it before shutting the server down (it ends the Watch streams). */
  health: GrpcHealth;
  /** GetTraffic's scraper; close() it on shutdown. */
  traffic: TrafficScraper;
} {
  const { store, hub, deploys, invokes, auth } = deps;
  const log = deps.logger.child({ component: 'api' });
  const server = new Server(serverOptions(deps.limits));
  // Before any addService: every service's unary calls are timed.
  deps.metrics?.instrument(server);
  // With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), every unary call is a span; before the audit, which reads its trace id.
  const traced = tracing();
  if (traced) instrumentTracing(server, traced);
  // Every call that changes something writes an audit record (in the change's transaction when it bumps a revision).
  instrumentAudit(server, store, log);
  // Every call is authorized by its caller's role from one table (auth/rpc-roles.ts); inside the audit, so refusals are recorded.
  instrumentRoles(server, auth, log);
  // Every field of every request is checked against the limits before it reaches the store or a queue.
  const check = new RequestChecks(deps.limits);
  const clusterOf = (req: { cluster: string }): string => check.name('cluster', req.cluster);
  // The handlers' own check: the admin token or a user token whose role the table (auth/rpc-roles.ts) allows; never a join or mirror token.
  const admin = (metadata: Metadata, method: string): Promise<void> => auth.requireRole(metadata, method);

  const serverInfo = (row: ServerRecord, connected: Set<string>): ServerInfo => ({
    name: row.name,
    host: row.host,
    pid: row.pid,
    lanes: row.lanes.map((l) => (l === 'cpu' ? Lane.LANE_CPU : Lane.LANE_NETWORK)),
    ...presence(row, connected),
    appliedRevision: row.appliedRevision,
    lastNack: row.lastNack,
    drained: row.drained,
    httpAddress: row.httpAddress,
    controlPlaneId: connected.has(row.name) ? store.instanceId : row.connectedElsewhere ? row.controlPlane : '',
  });

  // GetTraffic: the connected servers' /metrics, scraped while someone watches the cluster.
  const traffic = new TrafficScraper({
    servers: async (cluster) => {
      const connected = hub.connectedServers(cluster);
      return (await store.listServers(cluster)).filter((row) => presence(row, connected).connected).map((row) => ({ name: row.name, httpAddress: row.httpAddress }));
    },
    logger: log,
  });

  const findServer = async (cluster: string, name: string): Promise<ServerInfo> => {
    const row = (await store.listServers(cluster)).find((s) => s.name === name);
    if (!row) throw new NotFoundError('server', name, `server '${name}' has never joined cluster '${cluster}'`);
    return serverInfo(row, hub.connectedServers(cluster));
  };

  const setDrained = async (req: { cluster: string; server: string }, drained: boolean): Promise<ServerInfo> => {
    const cluster = clusterOf(req);
    const name = check.name('server', req.server, 'give the name of a server (see ListServers)');
    await hub.setDrained(cluster, name, drained);
    return findServer(cluster, name);
  };

  const clusters: ClusterServiceServer = {
    createCluster: unary('CreateCluster', log, admin, async (req) => toCluster(await store.createCluster(check.optionalName('name', req.name)))),
    getCluster: unary('GetCluster', log, admin, async (req) => toCluster(await store.getCluster(check.name('name', req.name)))),
    listClusters: unary('ListClusters', log, admin, async () => ({ clusters: (await store.listClusters()).map(toCluster) })),
    deleteCluster: unary('DeleteCluster', log, admin, async (req) => {
      const name = check.name('name', req.name);
      await store.deleteCluster(name);
      // Its servers' streams end with NOT_FOUND (the next push finds no cluster).
      hub.notify(name);
      return {};
    }),
    getJoinToken: unary('GetJoinToken', log, admin, async (req) => {
      const cluster = check.name('name', req.name);
      return { cluster, token: await store.getJoinToken(cluster) };
    }),
    rotateJoinToken: unary('RotateJoinToken', log, admin, async (req) => {
      const cluster = check.name('name', req.name);
      return { cluster, token: await store.rotateJoinToken(cluster) };
    }),
  };

  const deploy: DeployServiceServer = {
    deploy: unary('Deploy', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const options = { waitFor: req.waitFor, timeoutMs: check.timeoutMs('timeout_ms', req.timeoutMs) };
      const outcome = await deploys.deploy(cluster, check.files(req.files), options);
      return { revision: outcome.revision, services: outcome.services.map(toDeployedService), servers: outcome.servers };
    }),
    listServices: unary('ListServices', log, admin, async (req) => {
      const cluster = clusterOf(req);
      // page_token: the last name of the previous page, base64url (opaque to callers).
      const after = req.pageToken ? Buffer.from(req.pageToken, 'base64url').toString('utf8') : '';
      if (req.pageToken && (!after || Buffer.from(after, 'utf8').toString('base64url') !== req.pageToken)) {
        throw new InvalidArgumentError('page_token', 'page_token is not one a ListServices answered');
      }
      const size = req.pageSize > 0 ? Math.min(req.pageSize, MAX_SERVICES_PAGE) : 0;
      const listed = await store.listServices(cluster, { size, after, prefix: req.namePrefix });
      const last = listed.services.at(-1);
      return {
        revision: listed.revision,
        nextPageToken: listed.more && last ? Buffer.from(last.name, 'utf8').toString('base64url') : '',
        services: listed.services.map((s) => ({
          name: s.name,
          version: s.version,
          lane: laneToProto(s.lane),
          path: s.path,
          revision: s.revision,
          updatedAt: s.updatedAt,
          policy: s.policy,
          inputSchema: s.inputSchema ?? '',
        })),
      };
    }),
    undeploy: unary('Undeploy', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const name = check.name('name', req.name, 'give the name of the service to undeploy');
      return deploys.undeploy(cluster, name, { waitFor: req.waitFor, timeoutMs: check.timeoutMs('timeout_ms', req.timeoutMs) });
    }),
    rollback: unary('Rollback', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const service = check.name('service', req.service, 'give the name of the service to roll back');
      const version = check.name('version', req.version, 'pick one from ListServiceVersions');
      const result = await deploys.rollback(cluster, service, version, {
        waitFor: req.waitFor,
        timeoutMs: check.timeoutMs('timeout_ms', req.timeoutMs),
      });
      return { revision: result.revision, service: toDeployedService(result.service), servers: result.servers };
    }),
    listServiceVersions: unary('ListServiceVersions', log, admin, async (req) => {
      const versions = await store.listServiceVersions(clusterOf(req), check.name('service', req.service));
      return { versions: versions.map((v) => ({ ...v, lane: laneToProto(v.lane) })) };
    }),
    getDeploymentStatus: unary('GetDeploymentStatus', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const [{ revision }, rows] = await Promise.all([store.getCluster(cluster), store.listServers(cluster)]);
      const connected = hub.connectedServers(cluster);
      return {
        cluster,
        desiredRevision: revision,
        servers: rows.map((row) => ({
          server: row.name,
          ...presence(row, connected),
          drained: row.drained,
          appliedRevision: row.appliedRevision,
          converged: row.appliedRevision === revision,
          lastNack: row.lastNack,
        })),
      };
    }),
  };

  const invoke: InvokeServiceServer = {
    invoke: unary('Invoke', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const service = check.name('service', req.service, INVOKE_HINT);
      return invokes.invoke(cluster, service, check.inputJson('input_json', req.inputJson), check.timeoutMs('timeout_ms', req.timeoutMs));
    }),
    invokeAsync: unary('InvokeAsync', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const service = check.name('service', req.service, INVOKE_HINT);
      return { jobId: await invokes.invokeAsync(cluster, service, check.inputJson('input_json', req.inputJson)) };
    }),
    getJob: unary('GetJob', log, admin, async (req) => {
      const cluster = clusterOf(req);
      return toJobInfo(await invokes.getJob(cluster, check.name('job_id', req.jobId, JOB_HINT)));
    }),
    listFailedJobs: unary('ListFailedJobs', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const service = check.optionalName('service', req.service);
      if (req.pageSize > 0) {
        const page = await invokes.listFailedJobsPage(cluster, service, check.listLimit('page_size', req.pageSize), req.pageToken);
        return { jobs: page.jobs.map(toJobInfo), nextPageToken: page.nextPageToken };
      }
      return { jobs: (await invokes.listFailedJobs(cluster, service, check.listLimit('limit', req.limit))).map(toJobInfo), nextPageToken: '' };
    }),
    retryJob: unary('RetryJob', log, admin, async (req) => {
      const cluster = clusterOf(req);
      return toJobInfo(await invokes.retryJob(cluster, check.name('job_id', req.jobId, JOB_HINT)));
    }),
  };

  const servers: ServerServiceServer = {
    listServers: unary('ListServers', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const [{ revision }, rows] = await Promise.all([store.getCluster(cluster), store.listServers(cluster)]);
      const connected = hub.connectedServers(cluster);
      return { revision, servers: rows.map((row) => serverInfo(row, connected)) };
    }),
    getTraffic: unary('GetTraffic', log, admin, async (req) => traffic.series(clusterOf(req))),
    drainServer: unary('DrainServer', log, admin, async (req) => setDrained(req, true)),
    resumeServer: unary('ResumeServer', log, admin, async (req) => setDrained(req, false)),
    removeServer: unary('RemoveServer', log, admin, async (req) => {
      const cluster = clusterOf(req);
      const name = check.name('server', req.server, 'give the name of a server (see ListServers)');
      const row = (await store.listServers(cluster)).find((s) => s.name === name);
      if (!row) throw new NotFoundError('server', name, `server '${name}' has never joined cluster '${cluster}'`);
      if (presence(row, hub.connectedServers(cluster)).connected) {
        throw new FailedPreconditionError(`server '${name}' is connected to cluster '${cluster}': stop it first (a running server cannot be removed)`);
      }
      await store.removeServer(cluster, name);
      return {};
    }),
  };

  server.addService(ClusterServiceService, clusters);
  server.addService(DeployServiceService, deploy);
  server.addService(InvokeServiceService, invoke);
  server.addService(ServerServiceService, servers);
  server.addService(ChannelServiceService, channelHandlers(deps.channels, check, log, admin));
  server.addService(SecurityServiceService, securityHandlers(deps.security, check, log, admin));
  server.addService(ConnectionServiceService, connectionHandlers(deps.connections, check, log, admin));
  server.addService(ScheduleServiceService, scheduleHandlers(deps.schedules, check, log, admin));
  server.addService(SecretServiceService, secretHandlers(deps.secrets, log, admin));
  server.addService(ConfigServiceService, configHandlers(deps.config, check, log, admin));
  // Pushes go out encoded once per revision (sync/sync-service.ts).
  server.addService(SyncServiceDefinition, { sync: hub.handleStream });
  server.addService(AuditServiceService, auditHandlers(store, check, log, admin));
  server.addService(MirrorServiceService, mirrorHandlers(deps.mirror, deps.followers, auth, check, log, admin));
  server.addService(UserServiceService, userHandlers(store, auth, new LoginLimiter(), check, log, admin));

  // Health and reflection answer without a token (probes and grpcurl carry none): they reveal the
  // schema and whether the store answers, nothing of a cluster.
  const served = [
    ...[ClusterServiceService, DeployServiceService, InvokeServiceService, ServerServiceService, ChannelServiceService, SecurityServiceService],
    ...[ConnectionServiceService, ScheduleServiceService, SecretServiceService, ConfigServiceService, SyncServiceService, MirrorServiceService, AuditServiceService, UserServiceService],
    ...[HealthService, ServerReflectionV1Service, ServerReflectionV1AlphaService],
  ].map(serviceName);
  const health = new GrpcHealth({ probe: () => store.ping(), services: served, logger: log.child({ component: 'health' }) });
  server.addService(HealthService, health.handlers);
  const reflection = reflectionHandler(served);
  server.addService(ServerReflectionV1Service, { serverReflectionInfo: reflection });
  server.addService(ServerReflectionV1AlphaService, { serverReflectionInfo: reflection });

  return {
    server,
    health,
    traffic,
    listen: (address, credentials = ServerCredentials.createInsecure()) =>
      new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (err, port) => {
          if (err) return reject(err);
          health.start();
          resolve(port);
        });
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

function toDeployedService(s: DeployedServiceRecord): DeployedService {
  return { name: s.name, version: s.version, lane: laneToProto(s.lane), path: s.path, changed: s.changed, policy: s.policy };
}

function toJobInfo(job: AsyncJobInfo): JobInfo {
  return {
    jobId: job.id,
    service: job.service,
    state: JOB_STATES[job.state],
    attemptsMade: job.attemptsMade,
    inputJson: JSON.stringify(job.input ?? null),
    outputJson: job.state === 'completed' ? JSON.stringify(job.output ?? null) : '',
    failedReason: job.failedReason,
    createdAt: new Date(job.createdAt).toISOString(),
    finishedAt: job.finishedAt ? new Date(job.finishedAt).toISOString() : '',
  };
}
