import { Queue } from 'bullmq';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ConnectionStats } from '@laneway/connectors';
import { laneQueueName, type RedisClient } from '@laneway/lanes';
import type { ServiceLane } from '@laneway/sdk';
import { CellCounter, CellHistogram, type HistogramCell } from './cell-histogram';

/** OpenTelemetry's advice for http.server.request.duration, with 1 ms and 2.5 ms below it for fast channels. */
export const HTTP_DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Jobs and service calls: from a tenth of a millisecond (a sync handler) to a minute (a CPU job). */
export const JOB_DURATION_BUCKETS: readonly number[] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The value of `http_route` for a request no channel (and none of the listener's own paths) took. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The methods OpenTelemetry names as themselves in http.request.method; any other is `_OTHER`. */
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY'];
const METHOD_INDEX: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(KNOWN_METHODS.map((m, i) => [m, i])));
const OTHER_METHOD = KNOWN_METHODS.length;
const METHOD_LABEL = [...KNOWN_METHODS, '_OTHER'];

/**
 * The cells of one `http_route` (a channel's path pattern, or one of the listener's own paths), by
 * method and status code: made once per combination, then found by a number.
 */
export class RouteSeries {
  private readonly cells = new Map<number, HistogramCell>();

  constructor(
    private readonly histogram: CellHistogram,
    private readonly route: string,
  ) {}

  /** Records one answered request. */
  observe(method: string | undefined, status: number, seconds: number): void {
    const m = (method === undefined ? undefined : METHOD_INDEX[method]) ?? OTHER_METHOD;
    const key = status * 16 + m;
    let cell = this.cells.get(key);
    if (!cell) {
      cell = this.histogram.cell(this.route, METHOD_LABEL[m]!, String(status));
      this.cells.set(key, cell);
    }
    cell.observe(seconds);
  }
}

/** The HTTP server metrics of a channel listener: one {@link RouteSeries} per path pattern. */
export class HttpMetrics {
  private readonly histogram: CellHistogram;
  private readonly routes = new Map<string, RouteSeries>();
  /** The series of requests no route took. */
  readonly unmatched: RouteSeries;

  constructor(registry: Registry) {
    this.histogram = new CellHistogram(
      registry,
      'http_server_request_duration_seconds',
      'Duration of HTTP server requests (OpenTelemetry http.server.request.duration), by route pattern, method and status code.',
      ['http_route', 'http_request_method', 'http_response_status_code'],
      HTTP_DURATION_BUCKETS,
    );
    this.unmatched = this.route(UNMATCHED_ROUTE);
  }

  /** The series of a path pattern (`/customers/:id`, never a request's own path). */
  route(pattern: string): RouteSeries {
    let series = this.routes.get(pattern);
    if (!series) this.routes.set(pattern, (series = new RouteSeries(this.histogram, pattern)));
    return series;
  }
}

/** One lane's job figures on this server. */
export interface LaneSeries {
  /** Run time of this server's jobs; its error count is the failed jobs. */
  readonly duration: HistogramCell;
  /** Time from enqueue to start. */
  readonly wait: HistogramCell;
}

/**
 * Everything a server measures, in one prom-client registry: HTTP requests, lanes, services,
 * outgoing connections, and the process and runtime metrics of prom-client's collectDefaultMetrics
 * (CPU, memory, heap, GC, event-loop delay). `text()` is what `GET /metrics` answers.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly http: HttpMetrics;
  private readonly laneSeries: Record<ServiceLane, LaneSeries>;
  private readonly serviceDuration: CellHistogram;
  private readonly services: Record<ServiceLane, Map<string, HistogramCell>> = { network: new Map(), cpu: new Map() };
  readonly connectionDuration: CellHistogram;
  private queueCounts: ((lane: ServiceLane) => Promise<Record<string, number>>) | undefined;
  private connectionStats: (() => ConnectionStats[]) | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.http = new HttpMetrics(this.registry);
    const jobDuration = new CellHistogram(
      this.registry,
      'laneway_lane_job_duration_seconds',
      "Run time of the lane jobs this server took from the cluster's lane queues, by lane.",
      ['lane'],
      JOB_DURATION_BUCKETS,
    );
    const jobWait = new CellHistogram(
      this.registry,
      'laneway_lane_job_wait_seconds',
      'Time a lane job waited in its queue, from enqueue to the start of its run on this server, by lane.',
      ['lane'],
      JOB_DURATION_BUCKETS,
    );
    new CellCounter(this.registry, 'laneway_lane_jobs_completed_total', 'Lane jobs this server ran to success, by lane.', jobDuration, (c) => c.count - c.errors);
    new CellCounter(this.registry, 'laneway_lane_jobs_failed_total', 'Lane jobs this server ran that failed, by lane.', jobDuration, (c) => c.errors);
    this.laneSeries = {
      network: { duration: jobDuration.cell('network'), wait: jobWait.cell('network') },
      cpu: { duration: jobDuration.cell('cpu'), wait: jobWait.cell('cpu') },
    };
    for (const [state, help] of [
      ['waiting', "Jobs waiting in the cluster's lane queue (every server's view of the same queue), by lane."],
      ['active', "Jobs running from the cluster's lane queue on any server, by lane."],
      ['delayed', "Jobs in the cluster's lane queue waiting for their delay or retry backoff, by lane."],
    ] as const) {
      const counts = (lane: ServiceLane): Promise<Record<string, number> | undefined> => this.queueCounts?.(lane).catch(() => undefined) ?? Promise.resolve(undefined);
      new Gauge({
        name: `laneway_lane_jobs_${state}`,
        help,
        labelNames: ['lane'],
        registers: [this.registry],
        async collect() {
          for (const lane of ['network', 'cpu'] as const) {
            const now = await counts(lane);
            if (now) this.set({ lane }, now[state] ?? 0);
          }
        },
      });
    }
    this.serviceDuration = new CellHistogram(
      this.registry,
      'laneway_service_duration_seconds',
      'Duration of service invocations run on this server, by service and lane.',
      ['service', 'lane'],
      JOB_DURATION_BUCKETS,
    );
    new CellCounter(this.registry, 'laneway_service_invocations_total', 'Service invocations run on this server, by service and lane.', this.serviceDuration, (c) => c.count);
    new CellCounter(this.registry, 'laneway_service_errors_total', 'Service invocations run on this server that failed, by service and lane.', this.serviceDuration, (c) => c.errors);
    this.connectionDuration = new CellHistogram(
      this.registry,
      'laneway_connection_call_duration_seconds',
      "Duration of calls on the cluster's outgoing connections from this server's main thread, by connection and kind.",
      ['connection', 'kind'],
      JOB_DURATION_BUCKETS,
    );
    new CellCounter(this.registry, 'laneway_connection_call_errors_total', 'Calls on outgoing connections that failed, by connection and kind.', this.connectionDuration, (c) => c.errors);
    const stats = (): ConnectionStats[] => this.connectionStats?.() ?? [];
    new Gauge({
      name: 'laneway_connection_calls_in_flight',
      help: "Calls in flight on each outgoing connection from this server's main thread, by connection and kind.",
      labelNames: ['connection', 'kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of stats()) this.set({ connection: c.name, kind: c.kind }, c.inFlight);
      },
    });
    // A SQL connection's pool, by OpenTelemetry's names for database client connection pools.
    const pools = (): (ConnectionStats & { pool: NonNullable<ConnectionStats['pool']> })[] =>
      stats().filter((c): c is ConnectionStats & { pool: NonNullable<ConnectionStats['pool']> } => c.pool !== undefined);
    new Gauge({
      name: 'db_client_connection_count',
      help: 'Connections of a SQL connection pool (OpenTelemetry db.client.connection.count), by pool name and state (idle, used).',
      labelNames: ['db_client_connection_pool_name', 'db_client_connection_state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of pools()) {
          this.set({ db_client_connection_pool_name: c.name, db_client_connection_state: 'used' }, c.pool.inUse);
          this.set({ db_client_connection_pool_name: c.name, db_client_connection_state: 'idle' }, c.pool.size - c.pool.inUse);
        }
      },
    });
    new Gauge({
      name: 'db_client_connection_max',
      help: 'The most connections a SQL connection pool opens (OpenTelemetry db.client.connection.max), by pool name.',
      labelNames: ['db_client_connection_pool_name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of pools()) this.set({ db_client_connection_pool_name: c.name }, c.pool.max);
      },
    });
    new Gauge({
      name: 'db_client_connection_pending_requests',
      help: 'Queries waiting for a connection of a SQL connection pool (OpenTelemetry db.client.connection.pending_requests), by pool name.',
      labelNames: ['db_client_connection_pool_name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of pools()) this.set({ db_client_connection_pool_name: c.name }, c.pool.waiting);
      },
    });
  }

  /** Where the connection gauges are read at scrape time. */
  watchConnections(stats: () => ConnectionStats[]): void {
    this.connectionStats = stats;
  }

  /** An outgoing connection's call cell. */
  connection(name: string, kind: string): HistogramCell {
    return this.connectionDuration.cell(name, kind);
  }

  /** A lane's job series (made at start: two lanes). */
  lane(lane: ServiceLane): LaneSeries {
    return this.laneSeries[lane];
  }

  /** A service's cell in its lane: made on its first call, then found by name. */
  service(name: string, lane: ServiceLane): HistogramCell {
    const byName = this.services[lane];
    let cell = byName.get(name);
    if (!cell) byName.set(name, (cell = this.serviceDuration.cell(name, lane)));
    return cell;
  }

  /**
   * Reads the lane queues' depth at scrape time (waiting, active, delayed), through `connection` (a
   * plain, non-blocking client). Each read waits at most 1 s: a scrape while Redis is away still
   * answers, without those gauges.
   */
  watchQueues(cluster: string, prefix: string, connection: RedisClient): () => Promise<void> {
    const queues = {
      network: new Queue(laneQueueName(cluster, 'network'), { connection, prefix }),
      cpu: new Queue(laneQueueName(cluster, 'cpu'), { connection, prefix }),
    };
    this.queueCounts = (lane) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 1000)));
      return Promise.race([queues[lane].getJobCounts('waiting', 'active', 'delayed', 'prioritized'), timeout])
        .then((counts) => {
          if (!counts) throw new Error('queue counts timed out');
          // Prioritized jobs wait too: BullMQ keeps them apart from the plain waiting list.
          return { ...counts, waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) };
        })
        .finally(() => clearTimeout(timer));
    };
    return async () => {
      this.queueCounts = undefined;
      await Promise.all([queues.network.close(), queues.cpu.close()]).catch(() => undefined);
    };
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
