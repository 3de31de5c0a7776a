import { ApiClient } from '@laneway/api-client';
import {
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

/**
 * The control plane's gRPC API as tests and drills use it: short signatures with test defaults (wait
 * for every server, 20 s) over the one client, libs/api-client. A failed call rejects with its
 * ApiError (`code` is the numeric gRPC status, `details` the control plane's words).
 */
export class Api {
  /** The client every call goes through (for calls this facade does not shorten). */
  readonly client: ApiClient;

  /** `options.ca`: TLS, trusting that CA (PEM); without it, plaintext. */
  constructor(
    address: string,
    private readonly token: string | undefined,
    private readonly options: { ca?: Buffer | undefined } = {},
  ) {
    this.client = new ApiClient({
      controlPlanes: [address],
      token,
      tls: options.ca ? { ca: options.ca, caFile: 'the test CA' } : undefined,
    });
  }

  /** The same API with another bearer token (or none). */
  withToken(token: string | undefined, address: string): Api {
    return new Api(address, token, this.options);
  }

  createCluster(name: string): Promise<Cluster> {
    return this.client.createCluster(name);
  }

  getCluster(name: string): Promise<Cluster> {
    return this.client.getCluster(name);
  }

  deleteCluster(name: string): Promise<unknown> {
    return this.client.deleteCluster(name);
  }

  async joinToken(name: string): Promise<string> {
    return (await this.client.getJoinToken(name)).token;
  }

  async rotateJoinToken(name: string): Promise<string> {
    return (await this.client.rotateJoinToken(name)).token;
  }

  deploy(
    cluster: string,
    files: { path: string; content: string }[],
    waitFor = WaitFor.WAIT_FOR_ALL_SERVERS,
    timeoutMs = 20_000,
  ): Promise<DeployResponse> {
    return this.client.deploy({ cluster, files, waitFor, timeoutMs });
  }

  undeploy(cluster: string, name: string): Promise<UndeployResponse> {
    return this.client.undeploy({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 20_000 });
  }

  rollback(cluster: string, service: string, version: string): Promise<RollbackResponse> {
    return this.client.rollback({ cluster, service, version, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 20_000 });
  }

  listServiceVersions(cluster: string, service: string): Promise<ListServiceVersionsResponse> {
    return this.client.listServiceVersions(cluster, service);
  }

  deploymentStatus(cluster: string): Promise<DeploymentStatus> {
    return this.client.getDeploymentStatus(cluster);
  }

  listServices(cluster: string): Promise<ListServicesResponse> {
    return this.client.listServices(cluster);
  }

  invoke(cluster: string, service: string, input: unknown, timeoutMs = 20_000): Promise<InvokeResponse> {
    return this.client.invoke({ cluster, service, inputJson: JSON.stringify(input), timeoutMs });
  }

  invokeAsync(cluster: string, service: string, input: unknown): Promise<{ jobId: string }> {
    return this.client.invokeAsync({ cluster, service, inputJson: JSON.stringify(input), timeoutMs: 0 });
  }

  getJob(cluster: string, jobId: string): Promise<JobInfo> {
    return this.client.getJob(cluster, jobId);
  }

  listFailedJobs(cluster: string, service = '', limit = 0): Promise<{ jobs: JobInfo[] }> {
    return this.client.listFailedJobs({ cluster, service, limit });
  }

  retryJob(cluster: string, jobId: string): Promise<JobInfo> {
    return this.client.retryJob(cluster, jobId);
  }

  listServers(cluster: string): Promise<ListServersResponse> {
    return this.client.listServers(cluster);
  }

  drain(cluster: string, server: string): Promise<ServerInfo> {
    return this.client.drainServer(cluster, server);
  }

  resume(cluster: string, server: string): Promise<ServerInfo> {
    return this.client.resumeServer(cluster, server);
  }

  /** Creates (or, with `update`, replaces) a channel and waits for every connected server. */
  putChannel(
    cluster: string,
    channel: { name: string; method: string; path: string; service: string; security?: string; timeoutMs?: number; rateLimitPerSecond?: number; async?: boolean },
    update = false,
  ): Promise<ChannelChangeResponse> {
    const request = { cluster, security: '', timeoutMs: 0, async: false, rateLimitPerSecond: 0, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000, ...channel };
    return update ? this.client.updateChannel(request) : this.client.createChannel(request);
  }

  deleteChannel(cluster: string, name: string): Promise<ChannelChangeResponse> {
    return this.client.deleteChannel({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 });
  }

  listChannels(cluster: string): Promise<{ revision: number; channels: Channel[] }> {
    return this.client.listChannels(cluster);
  }

  /** Creates a security definition (one of apiKey, basicAuth, jwt) and waits for every connected server. */
  createSecurity(cluster: string, definition: Pick<PutSecurityDefinitionRequest, 'name' | 'apiKey' | 'basicAuth' | 'jwt'>): Promise<SecurityChangeResponse> {
    return this.client.createSecurityDefinition({ cluster, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000, ...definition });
  }

  getSecurity(cluster: string, name: string): Promise<SecurityDefinition> {
    return this.client.getSecurityDefinition(cluster, name);
  }

  deleteSecurity(cluster: string, name: string): Promise<SecurityChangeResponse> {
    return this.client.deleteSecurityDefinition({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 });
  }

  /** Creates a connection and waits for every connected server. */
  createConnection(cluster: string, name: string, spec: ConnectionSpec): Promise<ConnectionChangeResponse> {
    return this.client.createConnection({ cluster, name, spec, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 });
  }

  /** Replaces a connection's settings (secrets left empty keep the stored ones) and waits for every connected server. */
  updateConnection(cluster: string, name: string, spec: ConnectionSpec): Promise<ConnectionChangeResponse> {
    return this.client.updateConnection({ cluster, name, spec, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 });
  }

  getConnection(cluster: string, name: string): Promise<Connection> {
    return this.client.getConnection(cluster, name);
  }

  listConnections(cluster: string): Promise<{ revision: number; connections: Connection[] }> {
    return this.client.listConnections(cluster);
  }

  deleteConnection(cluster: string, name: string): Promise<ConnectionChangeResponse> {
    return this.client.deleteConnection({ cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 });
  }

  async testConnection(cluster: string, name: string, timeoutMs = 10_000): Promise<ConnectionTestResult[]> {
    return (await this.client.testConnection({ cluster, name, timeoutMs })).servers;
  }

  /** RotateSecretKey: the key id every stored secret is sealed with afterwards, and how many were re-encrypted. */
  rotateSecretKey(): Promise<RotateSecretKeyResponse> {
    return this.client.rotateSecretKey();
  }

  /** Creates (or, with `update`, replaces) a schedule; `intervalMs` or `cron` (with `timezone`). */
  putSchedule(
    cluster: string,
    schedule: Partial<Omit<PutScheduleRequest, 'cluster' | 'waitFor' | 'waitTimeoutMs'>> & { name: string; service: string },
    update = false,
  ): Promise<ScheduleChangeResponse> {
    const request: PutScheduleRequest = { cluster, inputJson: '', intervalMs: 0, cron: '', timezone: '', overlap: 0, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000, ...schedule };
    return this.client.putSchedule(request, update);
  }

  getSchedule(cluster: string, name: string): Promise<Schedule> {
    return this.client.getSchedule(cluster, name);
  }

  async listSchedules(cluster: string): Promise<Schedule[]> {
    return (await this.client.listSchedules(cluster)).schedules;
  }

  /** Pause, resume or delete. */
  changeSchedule(cluster: string, name: string, change: 'pause' | 'resume' | 'delete'): Promise<ScheduleChangeResponse> {
    return this.client.changeSchedule(change, { cluster, name, waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 20_000 });
  }

  runScheduleNow(cluster: string, name: string): Promise<string> {
    return this.client.runScheduleNow(cluster, name);
  }

  async listScheduleRuns(cluster: string, name: string, limit = 0): Promise<ScheduleRun[]> {
    return (await this.client.listScheduleRuns(cluster, name, limit)).runs;
  }

  /** The cluster as a bundle (`laneway.yaml` and sources); secrets as `${env:NAME}` unless `secretsKey`. */
  configExport(cluster: string, secretsKey: Buffer = Buffer.alloc(0)): Promise<ExportResponse> {
    return this.client.configExport({ cluster, secretsKey });
  }

  /** Applies a bundle (waiting for every server, 20 s), or with `dryRun` only answers the changes. */
  configApply(
    request: Partial<Omit<ApplyRequest, 'cluster' | 'files'>> & Pick<ApplyRequest, 'cluster' | 'files'>,
  ): Promise<ApplyResponse> {
    return this.client.configApply({
      dryRun: false,
      prune: false,
      secretValues: {},
      secretsKey: Buffer.alloc(0),
      waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
      timeoutMs: 20_000,
      ...request,
    });
  }

  async mirrorToken(cluster: string): Promise<string> {
    return (await this.client.createMirrorToken(cluster)).token;
  }

  async follow(request: Partial<FollowRequest> & Pick<FollowRequest, 'cluster' | 'sourceAddress' | 'token'>): Promise<MirrorStatus> {
    const response = await this.client.followMirror({ sourceCluster: '', caPem: '', replace: false, ...request });
    return response.status!;
  }

  mirrorStatus(cluster: string): Promise<MirrorStatus> {
    return this.client.getMirrorStatus(cluster);
  }

  async promote(cluster: string, options: { force?: boolean; address?: string; caPem?: string } = {}): Promise<PromoteResponse> {
    const { response } = await this.client.promoteMirror({ cluster, force: options.force ?? false, address: options.address ?? '', caPem: options.caPem ?? '' });
    return response;
  }

  close(): void {
    this.client.close();
  }
}
