import { Channel as GrpcChannel, connectivityState, credentials, Metadata, status } from '@grpc/grpc-js';
import type { CallOptions, ChannelCredentials, Client, ClientOptions, ClientUnaryCall, ServiceError } from '@grpc/grpc-js';
import {
  ChannelServiceClient,
  ClusterServiceClient,
  ConfigServiceClient,
  ConnectionServiceClient,
  DeployServiceClient,
  InvokeServiceClient,
  MirrorServiceClient,
  AuditServiceClient,
  type ListAuditRecordsRequest,
  type ListAuditRecordsResponse,
  SecretServiceClient,
  ScheduleServiceClient,
  SecurityServiceClient,
  ServerServiceClient,
  UserServiceClient,
  type CreateTokenRequest,
  type CreateTokenResponse,
  type CreateUserRequest,
  type ListTokensResponse,
  type ListUsersResponse,
  type LoginResponse,
  type Role,
  type User,
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
  FollowRequest,
  FollowResponse,
  MirrorStatus,
  MirrorToken,
  PromoteRequest,
  PromoteResponse,
  PutConnectionRequest,
  PutSecurityDefinitionRequest,
  RollbackRequest,
  RollbackResponse,
  SecurityChangeResponse,
  SecurityDefinition,
  ServerInfo,
  Traffic,
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
import { toApiError, type UnreachedHints } from './api-error';
import { ignoreIpServernameWarning } from './ignore-ip-servername-warning';

/** Per-call deadlines: Deploy compiles and waits for the servers, so it gets longer. */
export const DEFAULT_DEPLOY_DEADLINE_MS = 60_000;
export const DEFAULT_DEADLINE_MS = 35_000;
/** Slack on top of a server-side timeout the caller asked for (`--timeout`). */
const DEADLINE_SLACK_MS = 5_000;

export interface ApiClientOptions {
  /**
   * HOST:PORTs of the control planes (sharing one store), in order. A call that cannot connect to
   * one goes to the next; the address that answered is kept for the calls after it.
   */
  readonly controlPlanes: readonly string[];
  /** Sent as `authorization: Bearer <token>` on every call when set. */
  readonly token?: string | undefined;
  /** Overrides every per-call deadline (ms). */
  readonly deadlineMs?: number | undefined;
  /** Set: TLS, verifying the control plane's certificate against `ca` (read from `caFile`). Unset: plaintext. */
  readonly tls?: { readonly ca: Buffer; readonly caFile: string } | undefined;
  /** Added to "cannot reach the control plane" errors: which setting names the address or the CA. */
  readonly hints?: UnreachedHints | undefined;
  /**
   * What a failed call rejects with, made from its ApiError (the CLI turns it into its own error
   * type); unset, the ApiError itself.
   */
  readonly mapError?: ((error: unknown) => unknown) | undefined;
}

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

/**
 * What the control plane may send (its grpc.max_send_message_length): an export or a whole service
 * list of a cluster of 100,000 services is tens of MB, past grpc-js's default 4 MB.
 */
const CHANNEL_OPTIONS: Partial<ClientOptions> = { 'grpc.max_receive_message_length': 256 * 1024 * 1024 };

type ClientConstructor<C extends Client> = new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>) => C;

/** One control plane of the list: its connection, shared by the service clients made on it. */
interface Target {
  readonly channel: GrpcChannel;
  readonly clients: Map<ClientConstructor<Client>, Client>;
}

/**
 * What grpc-js answers when it had no connection to send the call on (refused, no route, no such
 * name, a failed TLS handshake): the control plane never saw the call, so another may take it.
 */
const NEVER_SENT = /No connection established|Name resolution failed/i;

/**
 * The control plane's gRPC API as promises, the one client of it (CLI, web admin, testkit, benchmarks,
 * mirror link). Every call has a deadline; a failed call rejects with the typed ApiError toApiError
 * makes of it (or what `mapError` makes of that). Clients are created on first use; call `close()` when done.
 * A call that could not connect to a control plane is made again on the next one of the list (never
 * one that may have reached a control plane: it may have changed something).
 */
export class ApiClient {
  private readonly targets = new Map<string, Target>();
  /** Index in `controlPlanes` of the address calls go to first: the last one that could be reached. */
  private current = 0;
  private channelCredentials?: ChannelCredentials;

  constructor(private readonly options: ApiClientOptions) {
    if (options.controlPlanes.length === 0) throw new Error('ApiClient needs at least one control plane address');
  }

  /** The address calls go to first. */
  get controlPlane(): string {
    return this.options.controlPlanes[this.current]!;
  }

  deploy(request: DeployRequest): Promise<DeployResponse> {
    return this.unary<DeployResponse>(
      this.deadline(DEFAULT_DEPLOY_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => this.deploys().deploy(request, md, opts, cb),
    );
  }

  /** Every service of the cluster, or one page of them (`pageSize` > 0; `nextPageToken` then says where the next starts). */
  listServices(cluster: string, page: { pageSize?: number; pageToken?: string; namePrefix?: string } = {}): Promise<ListServicesResponse> {
    const request = { cluster, pageSize: page.pageSize ?? 0, pageToken: page.pageToken ?? '', namePrefix: page.namePrefix ?? '' };
    return this.unary<ListServicesResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.deploys().listServices(request, md, opts, cb));
  }

  undeploy(request: UndeployRequest): Promise<UndeployResponse> {
    return this.unary<UndeployResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => this.deploys().undeploy(request, md, opts, cb),
    );
  }

  rollback(request: RollbackRequest): Promise<RollbackResponse> {
    return this.unary<RollbackResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => this.deploys().rollback(request, md, opts, cb),
    );
  }

  listServiceVersions(cluster: string, service: string): Promise<ListServiceVersionsResponse> {
    return this.unary<ListServiceVersionsResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.deploys().listServiceVersions({ cluster, service }, md, opts, cb),
    );
  }

  getDeploymentStatus(cluster: string): Promise<DeploymentStatus> {
    return this.unary<DeploymentStatus>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.deploys().getDeploymentStatus({ cluster }, md, opts, cb),
    );
  }

  invoke(request: InvokeRequest): Promise<InvokeResponse> {
    return this.unary<InvokeResponse>(this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs), (md, opts, cb) =>
      this.invokes().invoke(request, md, opts, cb),
    );
  }

  invokeAsync(request: InvokeRequest): Promise<InvokeAsyncResponse> {
    return this.unary<InvokeAsyncResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.invokes().invokeAsync(request, md, opts, cb),
    );
  }

  getJob(cluster: string, jobId: string): Promise<JobInfo> {
    return this.unary<JobInfo>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.invokes().getJob({ cluster, jobId }, md, opts, cb),
    );
  }

  /** Up to `limit` failed jobs, or with `pageSize` one page of them (`nextPageToken` then says where the next starts). */
  listFailedJobs(request: Omit<ListFailedJobsRequest, 'pageSize' | 'pageToken'> & Partial<Pick<ListFailedJobsRequest, 'pageSize' | 'pageToken'>>): Promise<ListFailedJobsResponse> {
    const full: ListFailedJobsRequest = { pageSize: 0, pageToken: '', ...request };
    return this.unary<ListFailedJobsResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.invokes().listFailedJobs(full, md, opts, cb),
    );
  }

  retryJob(cluster: string, jobId: string): Promise<JobInfo> {
    return this.unary<JobInfo>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.invokes().retryJob({ cluster, jobId }, md, opts, cb),
    );
  }

  listServers(cluster: string): Promise<ListServersResponse> {
    return this.unary<ListServersResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.servers().listServers({ cluster }, md, opts, cb),
    );
  }

  /** Requests/s and p99 per channel route and lane wait p99, from the control plane's scrapes of the servers. */
  getTraffic(cluster: string): Promise<Traffic> {
    return this.unary<Traffic>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.servers().getTraffic({ cluster }, md, opts, cb));
  }

  drainServer(cluster: string, server: string): Promise<ServerInfo> {
    return this.unary<ServerInfo>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.servers().drainServer({ cluster, server }, md, opts, cb),
    );
  }

  resumeServer(cluster: string, server: string): Promise<ServerInfo> {
    return this.unary<ServerInfo>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.servers().resumeServer({ cluster, server }, md, opts, cb),
    );
  }

  removeServer(cluster: string, server: string): Promise<RemoveServerResponse> {
    return this.unary<RemoveServerResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.servers().removeServer({ cluster, server }, md, opts, cb),
    );
  }

  listClusters(): Promise<ListClustersResponse> {
    return this.unary<ListClustersResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.clusters().listClusters({}, md, opts, cb),
    );
  }

  getCluster(name: string): Promise<Cluster> {
    return this.unary<Cluster>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.clusters().getCluster({ name }, md, opts, cb),
    );
  }

  createCluster(name: string): Promise<Cluster> {
    return this.unary<Cluster>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.clusters().createCluster({ name }, md, opts, cb),
    );
  }

  deleteCluster(name: string): Promise<DeleteClusterResponse> {
    return this.unary<DeleteClusterResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.clusters().deleteCluster({ name }, md, opts, cb),
    );
  }

  getJoinToken(name: string): Promise<JoinToken> {
    return this.unary<JoinToken>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.clusters().getJoinToken({ name }, md, opts, cb),
    );
  }

  rotateJoinToken(name: string): Promise<JoinToken> {
    return this.unary<JoinToken>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.clusters().rotateJoinToken({ name }, md, opts, cb),
    );
  }

  createChannel(request: CreateChannelRequest): Promise<ChannelChangeResponse> {
    return this.unary<ChannelChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.channels().createChannel(request, md, opts, cb),
    );
  }

  updateChannel(request: UpdateChannelRequest): Promise<ChannelChangeResponse> {
    return this.unary<ChannelChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.channels().updateChannel(request, md, opts, cb),
    );
  }

  describeChannel(cluster: string, name: string): Promise<Channel> {
    return this.unary<Channel>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.channels().describeChannel({ cluster, name }, md, opts, cb),
    );
  }

  listChannels(cluster: string): Promise<ListChannelsResponse> {
    return this.unary<ListChannelsResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.channels().listChannels({ cluster }, md, opts, cb),
    );
  }

  deleteChannel(request: DeleteChannelRequest): Promise<ChannelChangeResponse> {
    return this.unary<ChannelChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.channels().deleteChannel(request, md, opts, cb),
    );
  }

  createSecurityDefinition(request: PutSecurityDefinitionRequest): Promise<SecurityChangeResponse> {
    return this.unary<SecurityChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.security().createSecurityDefinition(request, md, opts, cb),
    );
  }

  updateSecurityDefinition(request: PutSecurityDefinitionRequest): Promise<SecurityChangeResponse> {
    return this.unary<SecurityChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.security().updateSecurityDefinition(request, md, opts, cb),
    );
  }

  getSecurityDefinition(cluster: string, name: string): Promise<SecurityDefinition> {
    return this.unary<SecurityDefinition>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.security().getSecurityDefinition({ cluster, name }, md, opts, cb),
    );
  }

  listSecurityDefinitions(cluster: string): Promise<ListSecurityDefinitionsResponse> {
    return this.unary<ListSecurityDefinitionsResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.security().listSecurityDefinitions({ cluster }, md, opts, cb),
    );
  }

  deleteSecurityDefinition(request: DeleteSecurityDefinitionRequest): Promise<SecurityChangeResponse> {
    return this.unary<SecurityChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.security().deleteSecurityDefinition(request, md, opts, cb),
    );
  }

  createConnection(request: PutConnectionRequest): Promise<ConnectionChangeResponse> {
    return this.unary<ConnectionChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.connections().createConnection(request, md, opts, cb),
    );
  }

  updateConnection(request: PutConnectionRequest): Promise<ConnectionChangeResponse> {
    return this.unary<ConnectionChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.connections().updateConnection(request, md, opts, cb),
    );
  }

  getConnection(cluster: string, name: string): Promise<Connection> {
    return this.unary<Connection>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.connections().getConnection({ cluster, name }, md, opts, cb),
    );
  }

  listConnections(cluster: string): Promise<ListConnectionsResponse> {
    return this.unary<ListConnectionsResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.connections().listConnections({ cluster }, md, opts, cb),
    );
  }

  deleteConnection(request: DeleteConnectionRequest): Promise<ConnectionChangeResponse> {
    return this.unary<ConnectionChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) => this.connections().deleteConnection(request, md, opts, cb),
    );
  }

  /** Each connected server opens the connection, within `timeoutMs` (0: the control plane's 10 s). */
  testConnection(request: TestConnectionRequest): Promise<TestConnectionResponse> {
    return this.unary<TestConnectionResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => this.connections().testConnection(request, md, opts, cb),
    );
  }

  /** A new key for the stored secrets, and every one re-encrypted with it; the answer names key ids only. */
  rotateSecretKey(): Promise<RotateSecretKeyResponse> {
    return this.unary<RotateSecretKeyResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.secrets().rotateSecretKey({}, md, opts, cb),
    );
  }

  /** CreateSchedule, or with `update` UpdateSchedule (every field replaced). */
  putSchedule(request: PutScheduleRequest, update: boolean): Promise<ScheduleChangeResponse> {
    return this.unary<ScheduleChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) =>
        update
          ? this.schedules().updateSchedule(request, md, opts, cb)
          : this.schedules().createSchedule(request, md, opts, cb),
    );
  }

  getSchedule(cluster: string, name: string): Promise<Schedule> {
    return this.unary<Schedule>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.schedules().getSchedule({ cluster, name }, md, opts, cb),
    );
  }

  listSchedules(cluster: string): Promise<ListSchedulesResponse> {
    return this.unary<ListSchedulesResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.schedules().listSchedules({ cluster }, md, opts, cb),
    );
  }

  /** PauseSchedule, ResumeSchedule or DeleteSchedule. */
  changeSchedule(
    change: 'pause' | 'resume' | 'delete',
    request: ScheduleRequest,
  ): Promise<ScheduleChangeResponse> {
    return this.unary<ScheduleChangeResponse>(
      this.deadline(DEFAULT_DEADLINE_MS, request.waitTimeoutMs),
      (md, opts, cb) =>
        change === 'pause'
          ? this.schedules().pauseSchedule(request, md, opts, cb)
          : change === 'resume'
            ? this.schedules().resumeSchedule(request, md, opts, cb)
            : this.schedules().deleteSchedule(request, md, opts, cb),
    );
  }

  async runScheduleNow(cluster: string, name: string): Promise<string> {
    const response = await this.unary<{ jobId: string }>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.schedules().runScheduleNow({ cluster, name }, md, opts, cb),
    );
    return response.jobId;
  }

  listScheduleRuns(cluster: string, name: string, limit: number): Promise<ListScheduleRunsResponse> {
    return this.unary<ListScheduleRunsResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.schedules().listScheduleRuns({ cluster, name, limit }, md, opts, cb),
    );
  }

  /** The cluster as a bundle: `laneway.yaml` and its services' sources, read at one revision. */
  configExport(request: ExportRequest): Promise<ExportResponse> {
    return this.unary<ExportResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.configs().export(request, md, opts, cb),
    );
  }

  /** What a bundle changes and, unless `dryRun`, the change in one revision; compiles services like Deploy. */
  configApply(request: ApplyRequest): Promise<ApplyResponse> {
    return this.unary<ApplyResponse>(
      this.deadline(DEFAULT_DEPLOY_DEADLINE_MS, request.timeoutMs),
      (md, opts, cb) => this.configs().apply(request, md, opts, cb),
    );
  }

  /** On a source: a mirror token for `cluster` (the answer is the only time it is shown). */
  createMirrorToken(cluster: string): Promise<MirrorToken> {
    return this.unary<MirrorToken>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.mirrors().createMirrorToken({ cluster }, md, opts, cb),
    );
  }

  /** On the follower's control plane; answers once the first snapshot is applied, so it gets Deploy's deadline. */
  followMirror(request: FollowRequest): Promise<FollowResponse> {
    return this.unary<FollowResponse>(this.deadline(DEFAULT_DEPLOY_DEADLINE_MS), (md, opts, cb) =>
      this.mirrors().follow(request, md, opts, cb),
    );
  }

  createUser(request: CreateUserRequest): Promise<User> {
    return this.unary<User>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().createUser(request, md, opts, cb));
  }

  listUsers(): Promise<ListUsersResponse> {
    return this.unary<ListUsersResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().listUsers({}, md, opts, cb));
  }

  async deleteUser(username: string): Promise<void> {
    await this.unary(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().deleteUser({ username }, md, opts, cb));
  }

  /** `username` '': the caller's own password. */
  async setPassword(username: string, password: string): Promise<void> {
    await this.unary(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().setPassword({ username, password }, md, opts, cb));
  }

  setRole(username: string, role: Role): Promise<User> {
    return this.unary<User>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().setRole({ username, role }, md, opts, cb));
  }

  /** The answer is the only time the token is shown. */
  createToken(request: CreateTokenRequest): Promise<CreateTokenResponse> {
    return this.unary<CreateTokenResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().createToken(request, md, opts, cb));
  }

  /** `username` '': the caller's own tokens (every user's with the admin token). */
  listTokens(username: string): Promise<ListTokensResponse> {
    return this.unary<ListTokensResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().listTokens({ username }, md, opts, cb));
  }

  async revokeToken(id: string): Promise<void> {
    await this.unary(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().revokeToken({ id }, md, opts, cb));
  }

  /** Username and password for a one-hour user token (no token needed; failures are rate-limited). */
  login(username: string, password: string): Promise<LoginResponse> {
    return this.unary<LoginResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) => this.users().login({ username, password }, md, opts, cb));
  }

  listAuditRecords(request: ListAuditRecordsRequest): Promise<ListAuditRecordsResponse> {
    return this.unary<ListAuditRecordsResponse>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.client(AuditServiceClient).listAuditRecords(request, md, opts, cb),
    );
  }

  getMirrorStatus(cluster: string): Promise<MirrorStatus> {
    return this.unary<MirrorStatus>(this.deadline(DEFAULT_DEADLINE_MS), (md, opts, cb) =>
      this.mirrors().getMirrorStatus({ cluster }, md, opts, cb),
    );
  }

  /**
   * Promote; a planned switchover waits for the source's final revision, so it gets Deploy's
   * deadline. Without `address`, each attempt sends the address of the control plane it goes to (the
   * one this client talks to), so the old source can follow this site. Resolves with the answer and
   * the address sent.
   */
  async promoteMirror(
    request: Omit<PromoteRequest, 'address'> & { readonly address?: string | undefined },
  ): Promise<{ readonly response: PromoteResponse; readonly address: string }> {
    let sent = '';
    const response = await this.unary<PromoteResponse>(this.deadline(DEFAULT_DEPLOY_DEADLINE_MS), (md, opts, cb) => {
      sent = request.address ?? this.controlPlane;
      return this.mirrors().promote({ ...request, address: sent }, md, opts, cb);
    });
    return { response, address: sent };
  }

  /** Closes every gRPC channel (connection) this client opened. Safe to call more than once. */
  close(): void {
    for (const target of this.targets.values()) target.channel.close();
    this.targets.clear();
  }

  private deploys(): DeployServiceClient {
    return this.client(DeployServiceClient);
  }

  private invokes(): InvokeServiceClient {
    return this.client(InvokeServiceClient);
  }

  private servers(): ServerServiceClient {
    return this.client(ServerServiceClient);
  }

  private clusters(): ClusterServiceClient {
    return this.client(ClusterServiceClient);
  }

  private channels(): ChannelServiceClient {
    return this.client(ChannelServiceClient);
  }

  private security(): SecurityServiceClient {
    return this.client(SecurityServiceClient);
  }

  private schedules(): ScheduleServiceClient {
    return this.client(ScheduleServiceClient);
  }

  private configs(): ConfigServiceClient {
    return this.client(ConfigServiceClient);
  }

  private secrets(): SecretServiceClient {
    return this.client(SecretServiceClient);
  }

  private connections(): ConnectionServiceClient {
    return this.client(ConnectionServiceClient);
  }

  private mirrors(): MirrorServiceClient {
    return this.client(MirrorServiceClient);
  }

  private users(): UserServiceClient {
    return this.client(UserServiceClient);
  }

  /** The service client of that kind on the current control plane's connection. */
  private client<C extends Client>(kind: ClientConstructor<C>): C {
    const address = this.controlPlane;
    const target = this.target(address);
    const made = target.clients.get(kind);
    if (made) return made as C;
    const client = new kind(address, this.credentials(), { channelOverride: target.channel });
    target.clients.set(kind, client);
    return client;
  }

  private target(address: string): Target {
    let target = this.targets.get(address);
    if (!target) {
      target = { channel: new GrpcChannel(address, this.credentials(), CHANNEL_OPTIONS), clients: new Map() };
      this.targets.set(address, target);
    }
    return target;
  }

  private credentials(): ChannelCredentials {
    if (!this.channelCredentials) {
      const { tls } = this.options;
      if (tls) ignoreIpServernameWarning();
      this.channelCredentials = tls ? credentials.createSsl(tls.ca) : credentials.createInsecure();
    }
    return this.channelCredentials;
  }

  /**
   * After a call found no connection to `tried`'s last address: makes the next address of the list
   * that this call has not tried the current one; false when every one was tried.
   */
  private moveOn(tried: readonly string[]): boolean {
    const { controlPlanes } = this.options;
    for (let step = 0; step < controlPlanes.length; step++) {
      const index = (this.current + step) % controlPlanes.length;
      if (!tried.includes(controlPlanes[index]!)) {
        this.current = index;
        return true;
      }
    }
    return false;
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

  /**
   * Makes the call on the current control plane (`start` picks its client then), and again on the
   * next ones while grpc-js says it had no connection to send it on; one deadline for all attempts.
   */
  private unary<Res>(
    deadlineMs: number,
    start: (metadata: Metadata, options: Partial<CallOptions>, callback: Callback<Res>) => ClientUnaryCall,
  ): Promise<Res> {
    const deadline = Date.now() + deadlineMs;
    const tried: string[] = [];
    return new Promise<Res>((resolve, reject) => {
      const attempt = (): void => {
        const address = this.controlPlane;
        const { channel } = this.target(address);
        tried.push(address);
        start(this.metadata(), { deadline }, (error, response) => {
          if (error === null) {
            resolve(response);
            return;
          }
          const connected = channel.getConnectivityState(false) === connectivityState.READY;
          if (!connected && error.code === status.UNAVAILABLE && NEVER_SENT.test(error.details) && this.moveOn(tried)) {
            attempt();
            return;
          }
          const typed = toApiError(error, {
            controlPlane: tried.length > 1 ? `any of ${tried.join(', ')}` : address,
            connected,
            caFile: this.options.tls?.caFile,
            hints: this.options.hints,
          });
          reject(this.options.mapError ? this.options.mapError(typed) : typed);
        });
      };
      attempt();
    });
  }
}
