import { connectivityState, credentials, Metadata } from '@grpc/grpc-js';
import type { CallOptions, ChannelCredentials, Client, ClientUnaryCall, ServiceError } from '@grpc/grpc-js';
import {
  ChannelServiceClient,
  ClusterServiceClient,
  ConfigServiceClient,
  ConnectionServiceClient,
  DeployServiceClient,
  InvokeServiceClient,
  SecretServiceClient,
  ScheduleServiceClient,
  SecurityServiceClient,
  ServerServiceClient,
} from '@laneway/proto';
import type {
  ApplyRequest,
  ApplyResponse,
  ExportRequest,
  ExportResponse,
  RotateSecretKeyResponse,
  Channel,
  ChannelChangeResponse,
  Cluster,
  Connection,
  ConnectionChangeResponse,
  CreateChannelRequest,
  DeleteChannelRequest,
  DeleteClusterResponse,
  DeleteConnectionRequest,
  DeleteSecurityDefinitionRequest,
  DeploymentStatus,
  DeployRequest,
  DeployResponse,
  InvokeAsyncResponse,
  InvokeRequest,
  InvokeResponse,
  JobInfo,
  JoinToken,
  ListChannelsResponse,
  ListClustersResponse,
  ListConnectionsResponse,
  ListFailedJobsRequest,
  ListFailedJobsResponse,
  ListSecurityDefinitionsResponse,
  ListServersResponse,
  ListServicesResponse,
  ListServiceVersionsResponse,
  PutConnectionRequest,
  PutSecurityDefinitionRequest,
  RollbackRequest,
  RollbackResponse,
  SecurityChangeResponse,
  SecurityDefinition,
  ServerInfo,
  RemoveServerResponse,
  TestConnectionRequest,
  TestConnectionResponse,
  UndeployRequest,
  UndeployResponse,
  UpdateChannelRequest,
} from '@laneway/proto';
import type {
  ListScheduleRunsResponse,
  ListSchedulesResponse,
  PutScheduleRequest,
  Schedule,
  ScheduleChangeResponse,
  ScheduleRequest,
} from '@laneway/proto';
import { ignoreIpServernameWarning } from './ignore-ip-servername-warning';
import { rethrowGrpcError } from './rethrow-grpc-error';

/** Per-call deadlines: Deploy compiles and waits for the servers, so it gets longer. */
export const DEFAULT_DEPLOY_DEADLINE_MS = 60_000;
export const DEFAULT_DEADLINE_MS = 35_000;
/** Slack on top of a server-side timeout the caller asked for (`--timeout`). */
const DEADLINE_SLACK_MS = 5_000;

export interface ApiClientOptions {
  /** host:port of the control plane. */
  readonly controlPlane: string;
  /** Sent as `authorization: Bearer <token>` on every call when set. */
  readonly token?: string | undefined;
  /** Overrides every per-call deadline (ms). */
  readonly deadlineMs?: number | undefined;
  /** Set: TLS, verifying the control plane's certificate against `ca` (read from `caFile`). Unset: plaintext. */
  readonly tls?: { readonly ca: Buffer; readonly caFile: string } | undefined;
}

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

/**
 * The control plane's gRPC API as promises. Every call has a deadline; a failed call rejects with the
 * CliError made by rethrowGrpcError. Clients are created on first use; call `close()` when done.
 */
export class ApiClient {
  private readonly clients: Client[] = [];
  private deployClient?: DeployServiceClient;
  private invokeClient?: InvokeServiceClient;
  private clusterClient?: ClusterServiceClient;
  private serverClient?: ServerServiceClient;
  private channelClient?: ChannelServiceClient;
  private securityClient?: SecurityServiceClient;
  private connectionClient?: ConnectionServiceClient;
  private secretClient?: SecretServiceClient;
  private scheduleClient?: ScheduleServiceClient;
  private configClient?: ConfigServiceClient;
  private channelCredentials?: ChannelCredentials;

  constructor(private readonly options: ApiClientOptions) {}

  get controlPlane(): string {
    return this.options.controlPlane;
  }

  deploy(request: DeployRequest): Promise<DeployResponse> {
    const client = this.deploys();
    return this.unary<DeployResponse>(
      client,
      this.deadline(DEFAULT_DEPLOY_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => client.deploy(request, md, opts, cb),
    );
  }

  listServices(cluster: string): Promise<ListServicesResponse> {
    const client = this.deploys();
    return this.unary<ListServicesResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.listServices({ cluster }, md, opts, cb),
    );
  }

  undeploy(request: UndeployRequest): Promise<UndeployResponse> {
    const client = this.deploys();
    return this.unary<UndeployResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => client.undeploy(request, md, opts, cb),
    );
  }

  rollback(request: RollbackRequest): Promise<RollbackResponse> {
    const client = this.deploys();
    return this.unary<RollbackResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => client.rollback(request, md, opts, cb),
    );
  }

  listServiceVersions(cluster: string, service: string): Promise<ListServiceVersionsResponse> {
    const client = this.deploys();
    return this.unary<ListServiceVersionsResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS),
      (md, opts, cb) => client.listServiceVersions({ cluster, service }, md, opts, cb),
    );
  }

  getDeploymentStatus(cluster: string): Promise<DeploymentStatus> {
    const client = this.deploys();
    return this.unary<DeploymentStatus>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.getDeploymentStatus({ cluster }, md, opts, cb),
    );
  }

  invoke(request: InvokeRequest): Promise<InvokeResponse> {
    const client = this.invokes();
    return this.unary<InvokeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => client.invoke(request, md, opts, cb),
    );
  }

  invokeAsync(request: InvokeRequest): Promise<InvokeAsyncResponse> {
    const client = this.invokes();
    return this.unary<InvokeAsyncResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.invokeAsync(request, md, opts, cb),
    );
  }

  getJob(cluster: string, jobId: string): Promise<JobInfo> {
    const client = this.invokes();
    return this.unary<JobInfo>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.getJob({ cluster, jobId }, md, opts, cb),
    );
  }

  listFailedJobs(request: ListFailedJobsRequest): Promise<ListFailedJobsResponse> {
    const client = this.invokes();
    return this.unary<ListFailedJobsResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.listFailedJobs(request, md, opts, cb),
    );
  }

  retryJob(cluster: string, jobId: string): Promise<JobInfo> {
    const client = this.invokes();
    return this.unary<JobInfo>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.retryJob({ cluster, jobId }, md, opts, cb),
    );
  }

  listServers(cluster: string): Promise<ListServersResponse> {
    const client = this.servers();
    return this.unary<ListServersResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.listServers({ cluster }, md, opts, cb),
    );
  }

  drainServer(cluster: string, server: string): Promise<ServerInfo> {
    const client = this.servers();
    return this.unary<ServerInfo>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.drainServer({ cluster, server }, md, opts, cb),
    );
  }

  resumeServer(cluster: string, server: string): Promise<ServerInfo> {
    const client = this.servers();
    return this.unary<ServerInfo>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.resumeServer({ cluster, server }, md, opts, cb),
    );
  }

  removeServer(cluster: string, server: string): Promise<RemoveServerResponse> {
    const client = this.servers();
    return this.unary<RemoveServerResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.removeServer({ cluster, server }, md, opts, cb),
    );
  }

  listClusters(): Promise<ListClustersResponse> {
    const client = this.clusters();
    return this.unary<ListClustersResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.listClusters({}, md, opts, cb),
    );
  }

  getCluster(name: string): Promise<Cluster> {
    const client = this.clusters();
    return this.unary<Cluster>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.getCluster({ name }, md, opts, cb),
    );
  }

  createCluster(name: string): Promise<Cluster> {
    const client = this.clusters();
    return this.unary<Cluster>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.createCluster({ name }, md, opts, cb),
    );
  }

  deleteCluster(name: string): Promise<DeleteClusterResponse> {
    const client = this.clusters();
    return this.unary<DeleteClusterResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.deleteCluster({ name }, md, opts, cb),
    );
  }

  getJoinToken(name: string): Promise<JoinToken> {
    const client = this.clusters();
    return this.unary<JoinToken>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.getJoinToken({ name }, md, opts, cb),
    );
  }

  rotateJoinToken(name: string): Promise<JoinToken> {
    const client = this.clusters();
    return this.unary<JoinToken>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.rotateJoinToken({ name }, md, opts, cb),
    );
  }

  createChannel(request: CreateChannelRequest): Promise<ChannelChangeResponse> {
    const client = this.channels();
    return this.unary<ChannelChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.createChannel(request, md, opts, cb),
    );
  }

  updateChannel(request: UpdateChannelRequest): Promise<ChannelChangeResponse> {
    const client = this.channels();
    return this.unary<ChannelChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.updateChannel(request, md, opts, cb),
    );
  }

  describeChannel(cluster: string, name: string): Promise<Channel> {
    const client = this.channels();
    return this.unary<Channel>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.describeChannel({ cluster, name }, md, opts, cb),
    );
  }

  listChannels(cluster: string): Promise<ListChannelsResponse> {
    const client = this.channels();
    return this.unary<ListChannelsResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.listChannels({ cluster }, md, opts, cb),
    );
  }

  deleteChannel(request: DeleteChannelRequest): Promise<ChannelChangeResponse> {
    const client = this.channels();
    return this.unary<ChannelChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.deleteChannel(request, md, opts, cb),
    );
  }

  createSecurityDefinition(request: PutSecurityDefinitionRequest): Promise<SecurityChangeResponse> {
    const client = this.security();
    return this.unary<SecurityChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.createSecurityDefinition(request, md, opts, cb),
    );
  }

  updateSecurityDefinition(request: PutSecurityDefinitionRequest): Promise<SecurityChangeResponse> {
    const client = this.security();
    return this.unary<SecurityChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.updateSecurityDefinition(request, md, opts, cb),
    );
  }

  getSecurityDefinition(cluster: string, name: string): Promise<SecurityDefinition> {
    const client = this.security();
    return this.unary<SecurityDefinition>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.getSecurityDefinition({ cluster, name }, md, opts, cb),
    );
  }

  listSecurityDefinitions(cluster: string): Promise<ListSecurityDefinitionsResponse> {
    const client = this.security();
    return this.unary<ListSecurityDefinitionsResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS),
      (md, opts, cb) => client.listSecurityDefinitions({ cluster }, md, opts, cb),
    );
  }

  deleteSecurityDefinition(request: DeleteSecurityDefinitionRequest): Promise<SecurityChangeResponse> {
    const client = this.security();
    return this.unary<SecurityChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.deleteSecurityDefinition(request, md, opts, cb),
    );
  }

  createConnection(request: PutConnectionRequest): Promise<ConnectionChangeResponse> {
    const client = this.connections();
    return this.unary<ConnectionChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.createConnection(request, md, opts, cb),
    );
  }

  updateConnection(request: PutConnectionRequest): Promise<ConnectionChangeResponse> {
    const client = this.connections();
    return this.unary<ConnectionChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.updateConnection(request, md, opts, cb),
    );
  }

  getConnection(cluster: string, name: string): Promise<Connection> {
    const client = this.connections();
    return this.unary<Connection>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.getConnection({ cluster, name }, md, opts, cb),
    );
  }

  listConnections(cluster: string): Promise<ListConnectionsResponse> {
    const client = this.connections();
    return this.unary<ListConnectionsResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.listConnections({ cluster }, md, opts, cb),
    );
  }

  deleteConnection(request: DeleteConnectionRequest): Promise<ConnectionChangeResponse> {
    const client = this.connections();
    return this.unary<ConnectionChangeResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => client.deleteConnection(request, md, opts, cb),
    );
  }

  /** Each connected server opens the connection, within `timeoutMs` (0: the control plane's 10 s). */
  testConnection(request: TestConnectionRequest): Promise<TestConnectionResponse> {
    const client = this.connections();
    return this.unary<TestConnectionResponse>(
      client,
      this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => client.testConnection(request, md, opts, cb),
    );
  }

  /** A new key for the stored secrets, and every one re-encrypted with it; the answer names key ids only. */
  rotateSecretKey(): Promise<RotateSecretKeyResponse> {
    const client = this.secrets();
    return this.unary<RotateSecretKeyResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.rotateSecretKey({}, md, opts, cb),
    );
  }

  /** CreateSchedule, or with `update` UpdateSchedule (every field replaced). */
  putSchedule(request: PutScheduleRequest, update: boolean): Promise<ScheduleChangeResponse> {
    const client = this.schedules();
    return this.unary<ScheduleChangeResponse>(client, this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs), (md, opts, cb) =>
      update ? client.updateSchedule(request, md, opts, cb) : client.createSchedule(request, md, opts, cb),
    );
  }

  getSchedule(cluster: string, name: string): Promise<Schedule> {
    const client = this.schedules();
    return this.unary<Schedule>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => client.getSchedule({ cluster, name }, md, opts, cb));
  }

  listSchedules(cluster: string): Promise<ListSchedulesResponse> {
    const client = this.schedules();
    return this.unary<ListSchedulesResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => client.listSchedules({ cluster }, md, opts, cb));
  }

  /** PauseSchedule, ResumeSchedule or DeleteSchedule. */
  changeSchedule(change: 'pause' | 'resume' | 'delete', request: ScheduleRequest): Promise<ScheduleChangeResponse> {
    const client = this.schedules();
    return this.unary<ScheduleChangeResponse>(client, this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs), (md, opts, cb) =>
      change === 'pause'
        ? client.pauseSchedule(request, md, opts, cb)
        : change === 'resume'
          ? client.resumeSchedule(request, md, opts, cb)
          : client.deleteSchedule(request, md, opts, cb),
    );
  }

  async runScheduleNow(cluster: string, name: string): Promise<string> {
    const client = this.schedules();
    const response = await this.unary<{ jobId: string }>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.runScheduleNow({ cluster, name }, md, opts, cb),
    );
    return response.jobId;
  }

  listScheduleRuns(cluster: string, name: string, limit: number): Promise<ListScheduleRunsResponse> {
    const client = this.schedules();
    return this.unary<ListScheduleRunsResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.listScheduleRuns({ cluster, name, limit }, md, opts, cb),
    );
  }

  /** The cluster as a bundle: `laneway.yaml` and its services' sources, read at one revision. */
  configExport(request: ExportRequest): Promise<ExportResponse> {
    const client = this.configs();
    return this.unary<ExportResponse>(client, this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      client.export(request, md, opts, cb),
    );
  }

  /** What a bundle changes and, unless `dryRun`, the change in one revision; compiles services like Deploy. */
  configApply(request: ApplyRequest): Promise<ApplyResponse> {
    const client = this.configs();
    return this.unary<ApplyResponse>(
      client,
      this.deadline(DEFAULT_DEPLOY_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => client.apply(request, md, opts, cb),
    );
  }

  /** Closes every gRPC channel (connection) this client opened. Safe to call more than once. */
  close(): void {
    for (const client of this.clients.splice(0)) client.close();
  }

  private deploys(): DeployServiceClient {
    return (this.deployClient ??= this.track(new DeployServiceClient(...this.target())));
  }

  private invokes(): InvokeServiceClient {
    return (this.invokeClient ??= this.track(new InvokeServiceClient(...this.target())));
  }

  private servers(): ServerServiceClient {
    return (this.serverClient ??= this.track(new ServerServiceClient(...this.target())));
  }

  private clusters(): ClusterServiceClient {
    return (this.clusterClient ??= this.track(new ClusterServiceClient(...this.target())));
  }

  private channels(): ChannelServiceClient {
    return (this.channelClient ??= this.track(new ChannelServiceClient(...this.target())));
  }

  private security(): SecurityServiceClient {
    return (this.securityClient ??= this.track(new SecurityServiceClient(...this.target())));
  }

  private schedules(): ScheduleServiceClient {
    return (this.scheduleClient ??= this.track(new ScheduleServiceClient(...this.target())));
  }

  private configs(): ConfigServiceClient {
    return (this.configClient ??= this.track(new ConfigServiceClient(...this.target())));
  }

  private secrets(): SecretServiceClient {
    return (this.secretClient ??= this.track(new SecretServiceClient(...this.target())));
  }

  private connections(): ConnectionServiceClient {
    return (this.connectionClient ??= this.track(new ConnectionServiceClient(...this.target())));
  }

  private target(): [string, ChannelCredentials] {
    if (!this.channelCredentials) {
      const { tls } = this.options;
      if (tls) ignoreIpServernameWarning();
      this.channelCredentials = tls ? credentials.createSsl(tls.ca) : credentials.createInsecure();
    }
    return [this.options.controlPlane, this.channelCredentials];
  }

  private track<C extends Client>(client: C): C {
    this.clients.push(client);
    return client;
  }

  /** The deadline in ms: the override, else enough for the server-side timeout, else the default. */
  private deadline(defaultMs: number, serverTimeoutMs = 0): number {
    if (this.options.deadlineMs !== undefined) return this.options.deadlineMs;
    return serverTimeoutMs > 0 ? Math.max(defaultMs, serverTimeoutMs + DEADLINE_SLACK_MS) : defaultMs;
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    if (this.options.token) metadata.set('authorization', `Bearer ${this.options.token}`);
    return metadata;
  }

  private unary<Res>(
    client: Client,
    deadlineMs: number,
    start: (metadata: Metadata, options: Partial<CallOptions>, callback: Callback<Res>) => ClientUnaryCall,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      start(this.metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => {
        if (error === null) {
          resolve(response);
          return;
        }
        try {
          const state = client.getChannel().getConnectivityState(false);
          rethrowGrpcError(error, {
            controlPlane: this.options.controlPlane,
            connected: state === connectivityState.READY,
            caFile: this.options.tls?.caFile,
          });
        } catch (cliError) {
          reject(cliError);
        }
      });
    });
  }
}
