import { credentials, Metadata, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import {
  ChannelServiceClient,
  ClusterServiceClient,
  ConfigServiceClient,
  ConnectionServiceClient,
  ScheduleServiceClient,
  SecurityServiceClient,
  SecretServiceClient,
  DeployServiceClient,
  InvokeServiceClient,
  MirrorServiceClient,
  ServerServiceClient,
  WaitFor,
  type ApplyRequest,
  type ApplyResponse,
  type ExportResponse,
  type Channel,
  type ChannelChangeResponse,
  type Connection,
  type ConnectionChangeResponse,
  type ConnectionSpec,
  type PutScheduleRequest,
  type Schedule,
  type ScheduleChangeResponse,
  type ScheduleRun,
  type ConnectionTestResult,
  type Cluster,
  type PutSecurityDefinitionRequest,
  type RotateSecretKeyResponse,
  type SecurityChangeResponse,
  type SecurityDefinition,
  type DeployResponse,
  type DeploymentStatus,
  type InvokeResponse,
  type JobInfo,
  type ListServersResponse,
  type ListServicesResponse,
  type ListServiceVersionsResponse,
  type RollbackResponse,
  type ServerInfo,
  type UndeployResponse,
  type FollowRequest,
  type MirrorStatus,
  type PromoteResponse,
} from '@laneway/proto';

type Callback<T> = (err: ServiceError | null, value: T) => void;
const call = <T>(fn: (cb: Callback<T>) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

/** A promise-based client of the control plane's gRPC API, as automation would use it. */
export class Api {
  private readonly clusters: ClusterServiceClient;
  private readonly deploys: DeployServiceClient;
  private readonly invokes: InvokeServiceClient;
  private readonly servers: ServerServiceClient;
  private readonly channels: ChannelServiceClient;
  private readonly security: SecurityServiceClient;
  private readonly connections: ConnectionServiceClient;
  private readonly secrets: SecretServiceClient;
  private readonly schedules: ScheduleServiceClient;
  private readonly configs: ConfigServiceClient;
  private readonly mirrors: MirrorServiceClient;

  /** `options.ca`: TLS, trusting that CA (PEM); without it, plaintext. */
  constructor(
    address: string,
    private readonly token: string | undefined,
    private readonly options: { ca?: Buffer | undefined } = {},
  ) {
    const creds = options.ca ? credentials.createSsl(options.ca) : credentials.createInsecure();
    this.clusters = new ClusterServiceClient(address, creds);
    this.deploys = new DeployServiceClient(address, creds);
    this.invokes = new InvokeServiceClient(address, creds);
    this.servers = new ServerServiceClient(address, creds);
    this.channels = new ChannelServiceClient(address, creds);
    this.security = new SecurityServiceClient(address, creds);
    this.connections = new ConnectionServiceClient(address, creds);
    this.secrets = new SecretServiceClient(address, creds);
    this.schedules = new ScheduleServiceClient(address, creds);
    this.configs = new ConfigServiceClient(address, creds);
    this.mirrors = new MirrorServiceClient(address, creds);
  }

  /** The same API with another bearer token (or none). */
  withToken(token: string | undefined, address: string): Api {
    return new Api(address, token, this.options);
  }

  private meta(): Metadata {
    const metadata = new Metadata();
    if (this.token) metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }

  private opts(ms = 30_000): CallOptions {
    return { deadline: Date.now() + ms };
  }

  createCluster(name: string): Promise<Cluster> {
    return call((cb) => this.clusters.createCluster({ name }, this.meta(), this.opts(), cb));
  }

  getCluster(name: string): Promise<Cluster> {
    return call((cb) => this.clusters.getCluster({ name }, this.meta(), this.opts(), cb));
  }

  deleteCluster(name: string): Promise<unknown> {
    return call((cb) => this.clusters.deleteCluster({ name }, this.meta(), this.opts(), cb));
  }

  async joinToken(name: string): Promise<string> {
    return (await call<{ token: string }>((cb) => this.clusters.getJoinToken({ name }, this.meta(), this.opts(), cb))).token;
  }

  async rotateJoinToken(name: string): Promise<string> {
    return (await call<{ token: string }>((cb) => this.clusters.rotateJoinToken({ name }, this.meta(), this.opts(), cb))).token;
  }

  deploy(
    cluster: string,
    files: { path: string; content: string }[],
    waitFor = WaitFor.WAIT_FOR_ALL_SERVERS,
    timeoutMs = 20_000,
  ): Promise<DeployResponse> {
    return call((cb) => this.deploys.deploy({ cluster, files, waitFor, timeoutMs }, this.meta(), this.opts(timeoutMs + 30_000), cb));
  }

  undeploy(cluster: string, name: string): Promise<UndeployResponse> {
    return call((cb) =>
      this.deploys.undeploy({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 20_000 }, this.meta(), this.opts(), cb),
    );
  }

  rollback(cluster: string, service: string, version: string): Promise<RollbackResponse> {
    return call((cb) =>
      this.deploys.rollback(
        { cluster, service, version, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 20_000 },
        this.meta(),
        this.opts(),
        cb,
      ),
    );
  }

  listServiceVersions(cluster: string, service: string): Promise<ListServiceVersionsResponse> {
    return call((cb) => this.deploys.listServiceVersions({ cluster, service }, this.meta(), this.opts(), cb));
  }

  deploymentStatus(cluster: string): Promise<DeploymentStatus> {
    return call((cb) => this.deploys.getDeploymentStatus({ cluster }, this.meta(), this.opts(), cb));
  }

  listServices(cluster: string): Promise<ListServicesResponse> {
    return call((cb) => this.deploys.listServices({ cluster }, this.meta(), this.opts(), cb));
  }

  invoke(cluster: string, service: string, input: unknown, timeoutMs = 20_000): Promise<InvokeResponse> {
    return call((cb) =>
      this.invokes.invoke(
        { cluster, service, inputJson: JSON.stringify(input), timeoutMs },
        this.meta(),
        this.opts(timeoutMs + 5000),
        cb,
      ),
    );
  }

  invokeAsync(cluster: string, service: string, input: unknown): Promise<{ jobId: string }> {
    return call((cb) =>
      this.invokes.invokeAsync({ cluster, service, inputJson: JSON.stringify(input), timeoutMs: 0 }, this.meta(), this.opts(), cb),
    );
  }

  getJob(cluster: string, jobId: string): Promise<JobInfo> {
    return call((cb) => this.invokes.getJob({ cluster, jobId }, this.meta(), this.opts(), cb));
  }

  listFailedJobs(cluster: string, service = '', limit = 0): Promise<{ jobs: JobInfo[] }> {
    return call((cb) => this.invokes.listFailedJobs({ cluster, service, limit }, this.meta(), this.opts(), cb));
  }

  retryJob(cluster: string, jobId: string): Promise<JobInfo> {
    return call((cb) => this.invokes.retryJob({ cluster, jobId }, this.meta(), this.opts(), cb));
  }

  listServers(cluster: string): Promise<ListServersResponse> {
    return call((cb) => this.servers.listServers({ cluster }, this.meta(), this.opts(), cb));
  }

  drain(cluster: string, server: string): Promise<ServerInfo> {
    return call((cb) => this.servers.drainServer({ cluster, server }, this.meta(), this.opts(), cb));
  }

  resume(cluster: string, server: string): Promise<ServerInfo> {
    return call((cb) => this.servers.resumeServer({ cluster, server }, this.meta(), this.opts(), cb));
  }

  /** Creates (or, with `update`, replaces) a channel and waits for every connected server. */
  putChannel(
    cluster: string,
    channel: { name: string; method: string; path: string; service: string; security?: string; timeoutMs?: number; rateLimitPerSecond?: number; async?: boolean },
    update = false,
  ): Promise<ChannelChangeResponse> {
    const request = { cluster, security: '', timeoutMs: 0, async: false, rateLimitPerSecond: 0, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000, ...channel };
    return call((cb) => (update ? this.channels.updateChannel(request, this.meta(), this.opts(), cb) : this.channels.createChannel(request, this.meta(), this.opts(), cb)));
  }

  deleteChannel(cluster: string, name: string): Promise<ChannelChangeResponse> {
    return call((cb) => this.channels.deleteChannel({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 }, this.meta(), this.opts(), cb));
  }

  listChannels(cluster: string): Promise<{ revision: number; channels: Channel[] }> {
    return call((cb) => this.channels.listChannels({ cluster }, this.meta(), this.opts(), cb));
  }

  /** Creates a security definition (one of apiKey, basicAuth, jwt) and waits for every connected server. */
  createSecurity(cluster: string, definition: Pick<PutSecurityDefinitionRequest, 'name' | 'apiKey' | 'basicAuth' | 'jwt'>): Promise<SecurityChangeResponse> {
    const request = { cluster, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000, ...definition };
    return call((cb) => this.security.createSecurityDefinition(request, this.meta(), this.opts(), cb));
  }

  getSecurity(cluster: string, name: string): Promise<SecurityDefinition> {
    return call((cb) => this.security.getSecurityDefinition({ cluster, name }, this.meta(), this.opts(), cb));
  }

  deleteSecurity(cluster: string, name: string): Promise<SecurityChangeResponse> {
    return call((cb) => this.security.deleteSecurityDefinition({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 }, this.meta(), this.opts(), cb));
  }

  /** Creates a connection and waits for every connected server. */
  createConnection(cluster: string, name: string, spec: ConnectionSpec): Promise<ConnectionChangeResponse> {
    const request = { cluster, name, spec, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 };
    return call((cb) => this.connections.createConnection(request, this.meta(), this.opts(), cb));
  }

  /** Replaces a connection's settings (secrets left empty keep the stored ones) and waits for every connected server. */
  updateConnection(cluster: string, name: string, spec: ConnectionSpec): Promise<ConnectionChangeResponse> {
    const request = { cluster, name, spec, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 };
    return call((cb) => this.connections.updateConnection(request, this.meta(), this.opts(), cb));
  }

  getConnection(cluster: string, name: string): Promise<Connection> {
    return call((cb) => this.connections.getConnection({ cluster, name }, this.meta(), this.opts(), cb));
  }

  listConnections(cluster: string): Promise<{ revision: number; connections: Connection[] }> {
    return call((cb) => this.connections.listConnections({ cluster }, this.meta(), this.opts(), cb));
  }

  deleteConnection(cluster: string, name: string): Promise<ConnectionChangeResponse> {
    return call((cb) => this.connections.deleteConnection({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 }, this.meta(), this.opts(), cb));
  }

  async testConnection(cluster: string, name: string, timeoutMs = 10_000): Promise<ConnectionTestResult[]> {
    return (await call<{ servers: ConnectionTestResult[] }>((cb) => this.connections.testConnection({ cluster, name, timeoutMs }, this.meta(), this.opts(timeoutMs + 10_000), cb))).servers;
  }

  /** RotateSecretKey: the key id every stored secret is sealed with afterwards, and how many were re-encrypted. */
  rotateSecretKey(): Promise<RotateSecretKeyResponse> {
    return call((cb) => this.secrets.rotateSecretKey({}, this.meta(), this.opts(), cb));
  }

  /** Creates (or, with `update`, replaces) a schedule; `intervalMs` or `cron` (with `timezone`). */
  putSchedule(
    cluster: string,
    schedule: Partial<Omit<PutScheduleRequest, 'cluster' | 'waitFor' | 'waitTimeoutMs'>> & { name: string; service: string },
    update = false,
  ): Promise<ScheduleChangeResponse> {
    const request: PutScheduleRequest = { cluster, inputJson: '', intervalMs: 0, cron: '', timezone: '', overlap: 0, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000, ...schedule };
    return call((cb) => (update ? this.schedules.updateSchedule(request, this.meta(), this.opts(), cb) : this.schedules.createSchedule(request, this.meta(), this.opts(), cb)));
  }

  getSchedule(cluster: string, name: string): Promise<Schedule> {
    return call((cb) => this.schedules.getSchedule({ cluster, name }, this.meta(), this.opts(), cb));
  }

  async listSchedules(cluster: string): Promise<Schedule[]> {
    return (await call<{ schedules: Schedule[] }>((cb) => this.schedules.listSchedules({ cluster }, this.meta(), this.opts(), cb))).schedules;
  }

  /** Pause, resume or delete. */
  changeSchedule(cluster: string, name: string, change: 'pause' | 'resume' | 'delete'): Promise<ScheduleChangeResponse> {
    const request = { cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 };
    return call((cb) =>
      change === 'pause'
        ? this.schedules.pauseSchedule(request, this.meta(), this.opts(), cb)
        : change === 'resume'
          ? this.schedules.resumeSchedule(request, this.meta(), this.opts(), cb)
          : this.schedules.deleteSchedule(request, this.meta(), this.opts(), cb),
    );
  }

  async runScheduleNow(cluster: string, name: string): Promise<string> {
    return (await call<{ jobId: string }>((cb) => this.schedules.runScheduleNow({ cluster, name }, this.meta(), this.opts(), cb))).jobId;
  }

  async listScheduleRuns(cluster: string, name: string, limit = 0): Promise<ScheduleRun[]> {
    return (await call<{ runs: ScheduleRun[] }>((cb) => this.schedules.listScheduleRuns({ cluster, name, limit }, this.meta(), this.opts(), cb))).runs;
  }

  /** The cluster as a bundle (`laneway.yaml` and sources); secrets as `${env:NAME}` unless `secretsKey`. */
  configExport(cluster: string, secretsKey: Buffer = Buffer.alloc(0)): Promise<ExportResponse> {
    return call((cb) => this.configs.export({ cluster, secretsKey }, this.meta(), this.opts(), cb));
  }

  /** Applies a bundle (waiting for every server, 20 s), or with `dryRun` only answers the changes. */
  configApply(
    request: Partial<Omit<ApplyRequest, 'cluster' | 'files'>> & Pick<ApplyRequest, 'cluster' | 'files'>,
  ): Promise<ApplyResponse> {
    const full: ApplyRequest = {
      dryRun: false,
      prune: false,
      secretValues: {},
      secretsKey: Buffer.alloc(0),
      waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
      timeoutMs: 20_000,
      ...request,
    };
    return call((cb) => this.configs.apply(full, this.meta(), this.opts(full.timeoutMs + 30_000), cb));
  }

  async mirrorToken(cluster: string): Promise<string> {
    return (await call<{ token: string }>((cb) => this.mirrors.createMirrorToken({ cluster }, this.meta(), this.opts(), cb))).token;
  }

  async follow(request: Partial<FollowRequest> & Pick<FollowRequest, 'cluster' | 'sourceAddress' | 'token'>, timeoutMs = 60_000): Promise<MirrorStatus> {
    const full: FollowRequest = { sourceCluster: '', caPem: '', replace: false, ...request };
    const response = await call<{ status?: MirrorStatus }>((cb) => this.mirrors.follow(full, this.meta(), this.opts(timeoutMs), cb));
    return response.status!;
  }

  mirrorStatus(cluster: string): Promise<MirrorStatus> {
    return call((cb) => this.mirrors.getMirrorStatus({ cluster }, this.meta(), this.opts(), cb));
  }

  promote(cluster: string, options: { force?: boolean; address?: string; caPem?: string } = {}, timeoutMs = 60_000): Promise<PromoteResponse> {
    return call((cb) =>
      this.mirrors.promote({ cluster, force: options.force ?? false, address: options.address ?? '', caPem: options.caPem ?? '' }, this.meta(), this.opts(timeoutMs), cb),
    );
  }

  close(): void {
    this.configs.close();
    this.schedules.close();
    this.connections.close();
    this.secrets.close();
    for (const c of [this.clusters, this.deploys, this.invokes, this.servers, this.channels, this.security, this.mirrors]) c.close();
  }
}
