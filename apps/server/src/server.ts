import os from 'node:os';
import path from 'node:path';
import { createRedis, LaneClient, redisSettingsOf, tracing } from '@laneway/lanes';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/load-config';
import { CpuPool } from './cpu/cpu-pool';
import { Connectors } from '@laneway/connectors';
import type { ChannelSpec, ConnectionSpec, SecuritySpec } from '@laneway/proto';
import { jsonSchemasOf } from './http/json-schemas-of';
import { openApiDocument } from './http/openapi-document';
import { routesOf } from './channels/channel-routes';
import { AsyncEnqueuer } from './channels/async-enqueuer';
import { RateLimiter } from './channels/rate-limiter';
import { RouteTable } from './channels/route-table';
import { SecurityChecks } from './channels/security-checks';
import { startDebugServer, type RunningDebugServer } from './http/debug-server';
import { RESERVED_PATHS, startHttpServer, type RunningHttpServer } from './http/http-server';
import { Invoker } from './lanes/invoker';
import { LaneWorkers } from './lanes/lane-workers';
import { LoadChecker } from './load/load-checker';
import { ServerMetrics } from './metrics/server-metrics';
import { ServiceRegistry, type RegisteredService, type Update } from './registry/service-registry';
import { ResourceSet } from './resources/resource-set';
import { readControlPlaneCa } from './sync/control-plane-tls';
import { SyncAgent, type ApplyError } from './sync/sync-agent';
import { traceConnectionCall } from './tracing/spans';

export interface RunningServer {
  registry: ServiceRegistry;
  /** The cluster's other resources (channels, ...) as applied. */
  resources: ResourceSet;
  /** The port of the HTTP listener (channels, /healthz), when LANEWAY_HTTP_ADDR is set. */
  httpPort: number | undefined;
  /** The port of the debug listener (/debug/memory), when LANEWAY_DEBUG_ADDR is set. */
  debugPort: number | undefined;
  /** Stops taking jobs, finishes in-flight ones, closes everything. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  /** Path of the bundled CPU-lane thread entry; defaults to cpu-worker.js beside this bundle. */
  cpuWorkerPath?: string;
  /** Path of the bundled load-check thread entry; defaults to load-check-worker.js beside this bundle. */
  loadCheckWorkerPath?: string;
  /**
   * The control plane refused this server before it ever synced (a wrong join token, an unknown
   * cluster): the sync agent has stopped and the caller should stop the server. Default: logged.
   */
  onRefused?: (message: string) => void;
}

/** Starts one data-plane replica: sync agent, registry, CPU pool, lane workers, health endpoint. */
export async function startServer(config: ServerConfig, logger: Logger, options: StartServerOptions = {}): Promise<RunningServer> {
  const log = logger.child({ cluster: config.cluster, server: config.serverName });
  // First: a missing or unreadable CA file fails the start before anything else is started.
  const controlPlaneTls = config.tlsCaFile ? readControlPlaneCa(config.tlsCaFile) : undefined;
  const checker = config.loadMaxHeapMb
    ? new LoadChecker({
        workerPath: options.loadCheckWorkerPath ?? path.join(__dirname, 'load-check-worker.js'),
        timeoutMs: config.loadTimeoutMs,
        maxHeapMb: config.loadMaxHeapMb,
        logger: log,
      })
    : undefined;
  // Started now so that the first push does not wait for the thread.
  checker?.start();
  const registry = new ServiceRegistry({ loadTimeoutMs: config.loadTimeoutMs, checker });
  // Channels (and the kinds after them) as the last applied push left them.
  const resources = new ResourceSet();
  // The channels every server answers on its HTTP listener.
  const routes = new RouteTable([], { reserved: RESERVED_PATHS });
  // On unless LANEWAY_METRICS=off: served at GET /metrics on the channel listener.
  const metrics = config.metrics === false ? undefined : new ServerMetrics();
  // One Redis, a Cluster or Sentinel's primary: every connection is made by createRedis.
  const redisSettings = redisSettingsOf(config);
  const connection = createRedis(redisSettings);
  const publisher = createRedis(redisSettings);
  const lanes = new LaneClient({ redis: redisSettings, prefix: config.queuePrefix });
  // The cluster's outgoing connections, for the services on this thread (CPU threads have their own).
  const connectors = new Connectors({
    server: config.serverName,
    log: log.child({ component: 'connections' }),
    onCall: metrics && ((name, kind, seconds, ok) => (ok ? metrics.connection(name, kind).observe(seconds) : metrics.connection(name, kind).observeError(seconds))),
    traceCall: tracing() ? traceConnectionCall : undefined,
  });
  metrics?.watchConnections(() => connectors.stats());

  // The pool needs the invoker (for ctx.invoke from CPU-lane services) and the invoker needs the pool.
  const invokerRef: { current?: Invoker } = {};
  const pool = new CpuPool({
    size: config.cpuThreads,
    workerPath: options.cpuWorkerPath ?? path.join(__dirname, 'cpu-worker.js'),
    threadData: { cluster: config.cluster, server: config.serverName },
    logger: log,
    onInvoke: (service, input, timeoutMs, async, traceparent) => {
      // A CPU thread's ctx.invoke: the call continues the thread's span (its job then carries it).
      const t = traceparent ? tracing() : undefined;
      const span = t && t.api.trace.getSpan(t.extract(traceparent));
      return async ? invokerRef.current!.invokeAsyncFromService(service, input, undefined, span) : invokerRef.current!.invokeFromService(service, input, timeoutMs, undefined, span);
    },
    recycleAboveHeapMb: config.cpuThreadMaxHeapMb,
    loadTimeoutMs: config.loadTimeoutMs,
    sched: config.cpuSched,
  });
  await pool.start();
  const invoker = (invokerRef.current = new Invoker({
    cluster: config.cluster,
    server: config.serverName,
    registry,
    pool,
    lanes,
    logger: log,
    cpuJobTimeoutMs: config.cpuJobTimeoutMs,
    connections: connectors,
    metrics,
  }));

  const workers = new LaneWorkers({
    cluster: config.cluster,
    server: config.serverName,
    prefix: config.queuePrefix,
    connection,
    publisher,
    invoker,
    networkConcurrency: config.networkConcurrency,
    networkFetchers: config.networkFetchers,
    cpuConcurrency: config.cpuThreads,
    lockMs: config.jobLockMs,
    logger: log,
    metrics,
  });
  const stopQueueWatch = metrics?.watchQueues(config.cluster, config.queuePrefix, publisher);

  let closing = false;
  let synced = false;
  const apply = async (update: Update): Promise<ApplyError[]> => {
    // Drain is control, not content: it takes effect even if the services in this push are rejected.
    if (update.drained !== !workers.serving || !synced) {
      await workers.setDrained(update.drained);
      if (synced) log.info({ drained: update.drained, inFlight: workers.inFlight }, update.drained ? 'drained' : 'resumed');
    }
    // Dependency order: services (later, the connections they use), security definitions, then the
    // channels that name them; all committed together or not at all.
    const prepared = await registry.prepare(update);
    if (prepared.errors.length) return prepared.errors;
    const nextResources = resources.prepare(update);
    // Connections before the services that use them: every declared one must be in this push's state.
    const nextConnections = resources.ofKind<ConnectionSpec>('connection', nextResources).map((c) => ({ name: c.name, version: c.version, spec: c.spec }));
    // Services this push leaves alone held their connections at the last commit: they need a look only
    // when the push takes a connection away.
    const nextNames = new Set(nextConnections.map((c) => c.name));
    const dropsOne = resources.ofKind('connection').some((c) => !nextNames.has(c.name));
    const missing = missingConnections(registry.touched(prepared, dropsOne), nextNames);
    if (missing.length) return missing;
    const nextRoutes = routesOf(resources.ofKind<ChannelSpec>('channel', nextResources));
    const routeErrors = routes.check(nextRoutes);
    if (routeErrors.length) return routeErrors.map((e) => ({ kind: 'channel', service: e.route, message: e.message }));
    // CPU threads hear of the connections first, so that no job of a service using a new one comes before it.
    pool.setConnections(nextConnections);
    const cpuErrors = await pool.apply(registry.ofLane('cpu', prepared));
    if (cpuErrors.length) return cpuErrors;
    registry.commit(prepared);
    resources.commit(nextResources);
    // New calls use new or changed connections at once; replaced pools close once their calls finish.
    connectors.replace(nextConnections);
    // (The CPU threads got them before their services were committed, above.)
    // Checked above, so this swaps the table in; requests in flight keep the route they matched.
    // Each route's http_route series is made now, not on its first request.
    if (metrics) for (const route of nextRoutes) route.metrics = metrics.http.route(route.path);
    routes.replace(nextRoutes);
    // Take jobs only once this server holds the cluster's services: a fresh replica must not answer
    // "not found" for jobs that an up-to-date replica could run.
    if (!synced && !closing) {
      synced = true;
      await workers.start();
      log.info({ revision: registry.revision, services: registry.size, cpuThreads: pool.size, drained: update.drained }, 'server serving');
    }
    return [];
  };

  const agent = new SyncAgent({
    addresses: config.controlPlanes,
    cluster: config.cluster,
    server: config.serverName,
    host: os.hostname(),
    pid: process.pid,
    joinToken: config.joinToken,
    httpAddress: () => (http ? advertisedAddress(config.httpAddress!.host, http.port) : ''),
    onRefused: options.onRefused ?? ((message) => log.error({}, message)),
    tls: controlPlaneTls,
    appliedRevision: () => registry.revision,
    apply,
    testConnection: (name, timeoutMs) => connectors.test(name, timeoutMs),
    onNameConflict: async () => {
      if (!workers.serving) return;
      await workers.setDrained(true);
      log.error({ inFlight: workers.inFlight }, 'not taking jobs: another replica uses this server name');
    },
    logger: log,
  });
  const security = new SecurityChecks(resources);
  const limiterRedis = RateLimiter.connect(redisSettings);
  const limiter = new RateLimiter(limiterRedis, config.queuePrefix, config.cluster, log);
  // One public listener: /healthz for the load balancer, /openapi.json, and the cluster's channels.
  // /debug/memory is on a listener of its own, where the operator put it (LANEWAY_DEBUG_ADDR).
  const debug: RunningDebugServer | undefined = config.debugAddress && (await startDebugServer({ ...config.debugAddress, logger: log }));
  let http: RunningHttpServer | undefined;
  if (config.httpAddress) {
    http = await startHttpServer({
      host: config.httpAddress.host,
      port: config.httpAddress.port,
      health: {
        serving: () => workers.serving,
        drained: () => workers.isDrained,
        details: () => ({
          server: config.serverName,
          cluster: config.cluster,
          revision: registry.revision,
          inFlight: workers.inFlight,
          networkFetchers: workers.networkFetchers,
          httpInFlight: http?.inFlight ?? 0,
          // Sync channel calls need no Redis, so the server stays 'serving' without it; operators see it here.
          redis: lanes.connected ? 'up' : 'unreachable',
        }),
      },
      routes,
      invoker,
      security: (route, request) => security.check(route, request.headers),
      rateLimit: limiter.take,
      // Idempotency keys on the connection async jobs are queued on: a key and its job reach Redis in order.
      enqueue: new AsyncEnqueuer(lanes.enqueueConnection, config.queuePrefix, config.cluster, invoker, () => lanes.connected).enqueue,
      openApi: () =>
        openApiDocument({
          cluster: config.cluster,
          revision: registry.revision,
          routes: routesOf(resources.ofKind<ChannelSpec>('channel')),
          security: resources.ofKind<SecuritySpec>('security'),
          // CPU-lane definitions live in the threads, which sent their schemas when they loaded them.
          schemasOf: (service) => {
            const local = registry.get(service);
            return local?.lane === 'cpu' ? pool.schemasOf(service) : jsonSchemasOf(local?.definition);
          },
        }),
      logger: log,
      maxInFlight: config.httpMaxInFlight,
      maxBodyBytes: config.httpMaxBodyBytes,
      requestTimeoutMs: config.httpRequestTimeoutMs,
      maxHeaderBytes: config.httpMaxHeaderBytes,
      closeTimeoutMs: config.shutdownTimeoutMs,
      metrics,
    }).catch((err: unknown) => {
      throw listenError(err, config.httpAddress!);
    });
  }
  agent.start();

  return {
    registry,
    resources,
    httpPort: http?.port,
    debugPort: debug?.port,
    async close() {
      if (closing) return;
      closing = true;
      // Channel requests first: no new connections, the requests in flight finish (their calls may
      // still need this server's lanes), then the lanes drain.
      await http?.close();
      await debug?.close();
      const { finished } = await workers.close(config.shutdownTimeoutMs);
      if (!finished) log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'in-flight jobs did not finish in time; other servers take them over');
      agent.stop();
      await stopQueueWatch?.();
      await pool.close();
      await connectors.close();
      await checker?.close();
      await lanes.close();
      await Promise.all([connection.quit(), publisher.quit(), limiterRedis.quit()].map((q) => q.catch(() => undefined)));
      log.info({}, 'server stopped');
    },
  };
}

/** A failed bind of the channel listener, naming the variable to change (two replicas on one host need two addresses). */
function listenError(err: unknown, address: { host: string; port: number }): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const at = `LANEWAY_HTTP_ADDR=${address.host}:${address.port}`;
  if (code === 'EADDRINUSE') {
    return new Error(
      `${at}: the address is already in use (another replica on this host?): give each replica its own address, e.g. LANEWAY_HTTP_ADDR=${address.host}:${address.port + 1}, or LANEWAY_HTTP_ADDR=off for no channel listener`,
      { cause: err },
    );
  }
  return new Error(`${at}: cannot listen there: ${(err as Error).message}`, { cause: err });
}

/**
 * The channel listener's address as others should dial it: the bound host, or, when it listens on
 * every interface, this host's first external IPv4 address (its name when it has none).
 */
function advertisedAddress(host: string, port: number): string {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  return `${external?.address ?? os.hostname()}:${port}`;
}

/** The services of a push that declare a connection the push's state does not hold (the control plane refuses those deploys). */
function missingConnections(services: Iterable<RegisteredService>, known: ReadonlySet<string>): ApplyError[] {
  const missing: ApplyError[] = [];
  for (const s of services) {
    for (const c of s.connections ?? []) {
      if (!known.has(c)) missing.push({ service: s.name, message: `service '${s.name}' declares connection '${c}', which this server does not hold` });
    }
  }
  return missing;
}
