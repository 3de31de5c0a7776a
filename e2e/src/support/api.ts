import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  ClusterServiceClient,
  DeployServiceClient,
  InvokeServiceClient,
  ServerServiceClient,
  WaitFor,
  type DeployResponse,
  type InvokeResponse,
  type ListServersResponse,
  type ListServicesResponse,
  type Cluster,
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

  constructor(address: string) {
    const creds = credentials.createInsecure();
    this.clusters = new ClusterServiceClient(address, creds);
    this.deploys = new DeployServiceClient(address, creds);
    this.invokes = new InvokeServiceClient(address, creds);
    this.servers = new ServerServiceClient(address, creds);
  }

  createCluster(name: string): Promise<Cluster> {
    return call((cb) => this.clusters.createCluster({ name }, cb));
  }

  getCluster(name: string): Promise<Cluster> {
    return call((cb) => this.clusters.getCluster({ name }, cb));
  }

  deleteCluster(name: string): Promise<unknown> {
    return call((cb) => this.clusters.deleteCluster({ name }, cb));
  }

  deploy(cluster: string, files: { path: string; content: string }[], waitFor = WaitFor.WAIT_FOR_ALL_SERVERS): Promise<DeployResponse> {
    return call((cb) => this.deploys.deploy({ cluster, files, waitFor, timeoutMs: 20_000 }, new Metadata(), { deadline: Date.now() + 60_000 }, cb));
  }

  listServices(cluster: string): Promise<ListServicesResponse> {
    return call((cb) => this.deploys.listServices({ cluster }, cb));
  }

  invoke(cluster: string, service: string, input: unknown, timeoutMs = 20_000): Promise<InvokeResponse> {
    return call((cb) =>
      this.invokes.invoke({ cluster, service, inputJson: JSON.stringify(input), timeoutMs }, new Metadata(), { deadline: Date.now() + timeoutMs + 5000 }, cb),
    );
  }

  invokeAsync(cluster: string, service: string, input: unknown): Promise<{ jobId: string }> {
    return call((cb) => this.invokes.invokeAsync({ cluster, service, inputJson: JSON.stringify(input), timeoutMs: 0 }, cb));
  }

  listServers(cluster: string): Promise<ListServersResponse> {
    return call((cb) => this.servers.listServers({ cluster }, cb));
  }

  close(): void {
    for (const c of [this.clusters, this.deploys, this.invokes, this.servers]) c.close();
  }
}
