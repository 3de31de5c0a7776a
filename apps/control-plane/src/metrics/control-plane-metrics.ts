import type { Server, ServiceDefinition, UntypedHandleCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { MirrorRole, type MirrorStatus } from '@laneway/proto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** OpenTelemetry's advice for request durations, with 1 ms and 2.5 ms below it. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** A deploy compiles, stores and waits for the servers: up to minutes. */
const DEPLOY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** The RPCs whose duration is also a deploy's (laneway_deploy_duration_seconds), by operation. */
const DEPLOY_RPCS: Readonly<Record<string, string>> = { Deploy: 'deploy', Rollback: 'rollback', Undeploy: 'undeploy', Apply: 'apply_config' };

/** What the cluster gauges read at scrape time: the store's clusters and servers, and who holds a stream here. */
export interface ClusterSource {
  listClusters(): Promise<readonly { name: string; revision: number }[]>;
  listServers(
    cluster: string,
  ): Promise<readonly { name: string; appliedRevision: number; lastNackRevision: number; drained: boolean; connectedElsewhere: boolean }[]>;
  connectedServers(cluster: string): Set<string>;
}

/** What the mirroring gauges read: a cluster's mirror status, as GetMirrorStatus answers it. */
export type MirrorSnapshot = Pick<MirrorStatus, 'cluster' | 'role' | 'epoch' | 'lagMs' | 'connected' | 'appliedSourceRevision' | 'followers'>;

export interface MirrorSource {
  listClusters(): Promise<readonly { name: string }[]>;
  status(cluster: string): Promise<MirrorSnapshot>;
}

interface ClusterSnapshot {
  clusters: { name: string; revision: number; servers: { name: string; appliedRevision: number; nackedRevision: number; drained: boolean; connected: boolean }[] }[];
}

/**
 * The control plane's metrics, in one prom-client registry: gRPC calls (OpenTelemetry's
 * rpc.server.call.duration), the HTTP listener's requests, deploys, each cluster's revision and each
 * server's applied revision, refused (NACKed) revision and state (read from the store at scrape time), and prom-client's
 * process and runtime metrics. `text()` is what `GET /metrics` answers.
 */
export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'http_route' | 'http_request_method' | 'http_response_status_code'>;
  private readonly rpcDuration: Histogram<'rpc_system' | 'rpc_service' | 'rpc_method' | 'rpc_grpc_status_code'>;
  private readonly deployDuration: Histogram<'operation' | 'outcome'>;
  private readonly nacks: Counter<'cluster'>;
  private source: ClusterSource | undefined;
  private snapshot: { at: number; value: Promise<ClusterSnapshot> } | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.rpcDuration = new Histogram({
      name: 'rpc_server_call_duration_seconds',
      help: 'Duration of unary gRPC calls served by the control plane (OpenTelemetry rpc.server.call.duration), by service, method and gRPC status code.',
      labelNames: ['rpc_system', 'rpc_service', 'rpc_method', 'rpc_grpc_status_code'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: "Duration of requests to the control plane's HTTP listener (OpenTelemetry http.server.request.duration), by route, method and status code.",
      labelNames: ['http_route', 'http_request_method', 'http_response_status_code'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    this.deployDuration = new Histogram({
      name: 'laneway_deploy_duration_seconds',
      help: 'Duration of deploys, rollbacks, undeploys and config applies, from the request to the answer (servers waited for included), by operation and outcome.',
      labelNames: ['operation', 'outcome'],
      buckets: DEPLOY_BUCKETS,
      registers: [this.registry],
    });
    this.nacks = new Counter({
      name: 'laneway_sync_nacks_total',
      help: 'Pushes a server refused (NACK) on a sync stream held by this control plane, by cluster.',
      labelNames: ['cluster'],
      registers: [this.registry],
    });
    const read = (): Promise<ClusterSnapshot | undefined> => this.clusters();
    new Gauge({
      name: 'laneway_cluster_revision',
      help: "Each cluster's current (desired) revision.",
      labelNames: ['cluster'],
      registers: [this.registry],
      async collect() {
        const snap = await read();
        this.reset();
        for (const c of snap?.clusters ?? []) this.set({ cluster: c.name }, c.revision);
      },
    });
    const perServer = (name: string, help: string, value: (s: ClusterSnapshot['clusters'][number]['servers'][number]) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['cluster', 'server'],
        registers: [this.registry],
        async collect() {
          const snap = await read();
          this.reset();
          for (const c of snap?.clusters ?? []) for (const s of c.servers) this.set({ cluster: c.name, server: s.name }, value(s));
        },
      });
    };
    perServer('laneway_server_applied_revision', "The revision each server last applied (ACKed), by cluster and server.", (s) => s.appliedRevision);
    perServer('laneway_server_connected', 'Whether each server has a sync stream open (to this or another control plane sharing the store): 1 or 0.', (s) => (s.connected ? 1 : 0));
    perServer(
      'laneway_server_nacked_revision',
      'The revision a server last refused (NACK) and still does not run; 0 when its last answer was an ACK. By cluster and server.',
      (s) => s.nackedRevision,
    );
    perServer('laneway_server_drained', 'Whether each server is drained (takes no jobs): 1 or 0.', (s) => (s.drained ? 1 : 0));
  }

  /**
   * Mirroring gauges, read at scrape time: per cluster that is a follower, its lag behind the source,
   * whether the link is up and the source revision applied; per mirrored cluster, its epoch; per source,
   * each follower's applied revision.
   */
  watchMirror(source: MirrorSource): void {
    let cached: { at: number; value: Promise<MirrorSnapshot[]> } | undefined;
    const read = (): Promise<MirrorSnapshot[]> => {
      const now = Date.now();
      if (!cached || now - cached.at > 1000) {
        const value = (async () => {
          const clusters = await source.listClusters();
          const all = await Promise.all(clusters.map((c) => source.status(c.name).catch(() => undefined)));
          return all.filter((s): s is MirrorSnapshot => s !== undefined && s.role !== MirrorRole.MIRROR_ROLE_STANDALONE);
        })();
        cached = { at: now, value };
      }
      return cached.value.catch(() => []);
    };
    const perCluster = (name: string, help: string, followersOnly: boolean, value: (s: MirrorSnapshot) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['cluster'],
        registers: [this.registry],
        async collect() {
          const all = await read();
          this.reset();
          for (const s of all) if (!followersOnly || s.role === MirrorRole.MIRROR_ROLE_FOLLOWER) this.set({ cluster: s.cluster }, value(s));
        },
      });
    };
    perCluster('laneway_mirror_lag_seconds', 'How long a follower cluster has been behind its source (0 while connected and caught up).', true, (s) => s.lagMs / 1000);
    perCluster('laneway_mirror_connected', "Whether a follower cluster's link to its source is up: 1 or 0.", true, (s) => (s.connected ? 1 : 0));
    perCluster('laneway_mirror_applied_source_revision', 'The source revision a follower cluster has applied.', true, (s) => s.appliedSourceRevision);
    perCluster('laneway_mirror_epoch', "A mirrored cluster's fencing epoch (raised by every promotion).", false, (s) => s.epoch);
    new Gauge({
      name: 'laneway_mirror_follower_applied_revision',
      help: "On a source, the revision each follower has applied (by cluster and follower).",
      labelNames: ['cluster', 'follower'],
      registers: [this.registry],
      async collect() {
        const all = await read();
        this.reset();
        for (const s of all) for (const f of s.followers) this.set({ cluster: s.cluster, follower: f.followerId }, f.appliedRevision);
      },
    });
  }

  /** A server on a stream held here refused a push of `cluster`. */
  nack(cluster: string): void {
    this.nacks.inc({ cluster });
  }

  /** Where the cluster and server gauges are read from. */
  watchClusters(source: ClusterSource): void {
    this.source = source;
  }

  /**
   * Times every unary call of every service later added to `server` (the streams, Sync and health
   * Watch among them, last as long as their clients stay: their duration says nothing).
   */
  instrument(server: Server): void {
    const addService = server.addService.bind(server);
    server.addService = (service: ServiceDefinition, implementation: UntypedServiceImplementation): void => {
      const wrapped: UntypedServiceImplementation = { ...implementation };
      for (const [key, method] of Object.entries(service)) {
        const handler = (implementation[key] ?? implementation[method.originalName as string]) as UntypedHandleCall | undefined;
        if (!handler || method.requestStream || method.responseStream) continue;
        const at = method.path.lastIndexOf('/');
        wrapped[key] = this.timed(method.path.slice(1, at), method.path.slice(at + 1), handler as UnaryHandler);
      }
      addService(service, wrapped);
    };
  }

  private timed(service: string, method: string, handler: UnaryHandler): UnaryHandler {
    const operation = DEPLOY_RPCS[method];
    const codes = new Map<number, ReturnType<typeof this.rpcDuration.labels>>();
    return (call, callback) => {
      const started = performance.now();
      handler(call, (err, ...rest) => {
        const seconds = (performance.now() - started) / 1000;
        const code = err ? (typeof err.code === 'number' ? err.code : 2) : 0;
        let series = codes.get(code);
        if (!series) codes.set(code, (series = this.rpcDuration.labels({ rpc_system: 'grpc', rpc_service: service, rpc_method: method, rpc_grpc_status_code: String(code) })));
        series.observe(seconds);
        if (operation) this.deployDuration.observe({ operation, outcome: err ? 'error' : 'ok' }, seconds);
        callback(err, ...rest);
      });
    };
  }

  /** The store's clusters and servers, read at most once a second however many gauges ask. */
  private clusters(): Promise<ClusterSnapshot | undefined> {
    const source = this.source;
    if (!source) return Promise.resolve(undefined);
    const now = Date.now();
    if (!this.snapshot || now - this.snapshot.at > 1000) {
      const value = (async (): Promise<ClusterSnapshot> => {
        const clusters = await source.listClusters();
        return {
          clusters: await Promise.all(
            clusters.map(async (c) => {
              const local = source.connectedServers(c.name);
              const rows = await source.listServers(c.name);
              return {
                name: c.name,
                revision: c.revision,
                servers: rows.map((r) => ({
                  name: r.name,
                  appliedRevision: r.appliedRevision,
                  nackedRevision: r.lastNackRevision,
                  drained: r.drained,
                  connected: local.has(r.name) || r.connectedElsewhere,
                })),
              };
            }),
          ),
        };
      })();
      this.snapshot = { at: now, value };
    }
    // The store unreachable: the scrape still answers, without these gauges.
    return this.snapshot.value.catch(() => undefined);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    // prom-client writes a NaN (the event-loop delay before its first sample) as 'Nan'; the format says 'NaN'.
    return this.registry.metrics().then((text) => text.replace(/ Nan$/gm, ' NaN'));
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type UnaryHandler = (call: any, callback: (err: { code?: number } | null, ...rest: any[]) => void) => void;
