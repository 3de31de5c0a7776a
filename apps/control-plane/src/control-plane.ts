import path from 'node:path';
import { LaneClient, redisSettingsOf, redisVariable, ScheduleQueues } from '@laneway/lanes';
import type { Logger } from 'pino';
import { createGrpcApi } from './api/grpc-api';
import { resolveAdminToken } from './auth/admin-token';
import { Authenticator } from './auth/authenticator';
import { BOOTSTRAP_USER, hashPassword } from './auth/passwords';
import type { ControlPlaneConfig } from './config/load-config';
import { ChannelCatalog } from './channels/channel-catalog';
import { CompilerPool } from './deploy/compiler-pool';
import { SecurityCatalog } from './security/security-catalog';
import { ConnectionCatalog } from './connections/connection-catalog';
import { ScheduleCatalog } from './schedules/schedule-catalog';
import { ScheduleKeeper } from './schedules/schedule-keeper';
import { DeployPipeline } from './deploy/deploy-pipeline';
import { ClusterConfig } from './cluster-config/cluster-config';
import { InvokeGateway } from './invoke/invoke-gateway';
import { ChangeFeed, ClusterStore } from './store';
import { SyncHub } from './sync/sync-hub';
import { FollowerSessions } from './sync/follower-sessions';
import { MirrorCoordinator } from './mirror/mirror-coordinator';
import { loadKeyring } from './secrets/keyring';
import { ResourceSecrets } from './secrets/resource-secrets';
import { SecretBox } from './secrets/secret-box';
import { SecretKeyRotation } from './secrets/secret-key-rotation';
import { serverTls } from './tls/server-tls';
import { startHttpListener, type RunningHttpListener } from './http/http-listener';
import { ControlPlaneMetrics } from './metrics/control-plane-metrics';
import { ApiClient } from '@laneway/api-client';
import { isLoopbackAddress } from './tls/listen-address';
import { apiTarget } from './web-admin/api-target';
import { createWebAdmin, type WebAdmin } from './web-admin/web-admin';

export interface RunningControlPlane {
  /** The bound port (useful with port 0). */
  port: number;
  /** The bound port of the HTTP listener (/metrics, /healthz), when LANEWAY_HTTP_ADDR is not off. */
  httpPort: number | undefined;
  store: ClusterStore;
  adminToken: string;
  /** Where the admin token came from: `generated` on the first start (kept in `adminTokenFile`). */
  adminTokenSource: 'env' | 'file' | 'generated';
  adminTokenFile: string | undefined;
  close(): Promise<void>;
}

export interface StartControlPlaneOptions {
  /** Path of the bundled compile-process entry; defaults to compile-worker.js beside this bundle. */
  compileWorkerPath?: string;
}

/** Wires store, sync hub, deploy pipeline, invoke gateway and the gRPC API, and starts listening. */
export async function startControlPlane(
  config: ControlPlaneConfig,
  logger: Logger,
  options: StartControlPlaneOptions = {},
): Promise<RunningControlPlane> {
  // First: a bad certificate or key file fails the start before anything else is started.
  const tls = await serverTls(config.tls, config.grpcAddress, config.dataDir, logger);
  // The key of the stored secrets, also before anything is started: a malformed one fails the start.
  const keys = loadKeyring({ secretKey: config.secretKey, previousSecretKeys: config.previousSecretKeys, dataDir: config.dataDir });
  const secrets = new ResourceSecrets(new SecretBox(keys.keyring));
  const compiler = new CompilerPool({
    workerPath: options.compileWorkerPath ?? path.join(__dirname, 'compile-worker.js'),
    size: config.compile.workers,
    maxHeapMb: config.compile.maxHeapMb,
    loadTimeoutMs: config.compile.loadTimeoutMs,
    logger: logger.child({ component: 'compiler' }),
  });
  await compiler.start();
  const store = await ClusterStore.open({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const admin = resolveAdminToken(config.adminToken, config.dataDir);
  const auth = new Authenticator(admin.token, store);
  // The first start creates the user `admin`, whose password is the admin token until changed. Two control
  // planes starting at once on one PostgreSQL both try: the insert does nothing when the user exists.
  if (!(await store.userExists(BOOTSTRAP_USER))) await store.ensureUser(BOOTSTRAP_USER, await hashPassword(admin.token), 'admin');
  // One Redis, a Cluster or Sentinel's primary (createRedis makes each connection).
  const redisSettings = redisSettingsOf(config);
  const lanes = new LaneClient({ redis: redisSettings, prefix: config.queuePrefix });
  const scheduleQueues = new ScheduleQueues({ redis: redisSettings, prefix: config.queuePrefix });
  const metrics = new ControlPlaneMetrics();
  const hub = new SyncHub({ store, auth, logger, limits: config.limits, secrets, onNack: (cluster) => metrics.nack(cluster) });
  metrics.watchClusters({ listClusters: () => store.listClusters(), listServers: (c) => store.listServers(c), connectedServers: (c) => hub.connectedServers(c) });
  // Several control planes may share one PostgreSQL store: each pushes the others' changes to the
  // servers it holds.
  const feed = config.databaseUrl
    ? new ChangeFeed(
        config.databaseUrl,
        store.instanceId,
        {
          change: (cluster, server) => {
            hub.remoteChange(cluster, server).catch((err: unknown) => logger.warn({ err, cluster, server }, 'could not push a change made elsewhere'));
          },
          resync: () => {
            hub.resyncAll().catch((err: unknown) => logger.warn({ err }, 'could not resync after a change-feed outage'));
          },
        },
        logger.child({ component: 'change-feed' }),
      )
    : undefined;
  await feed?.start();
  const deploys = new DeployPipeline(store, hub, logger.child({ component: 'deploy' }), compiler);
  const schedules = new ScheduleCatalog(store, hub, scheduleQueues, logger.child({ component: 'schedules' }));
  const scheduleKeeper = new ScheduleKeeper(store, schedules, logger.child({ component: 'schedules' }), config.scheduleCheckMs ?? 30_000);
  deploys.onServicesChanged((cluster) => scheduleKeeper.nudge(cluster));
  const followers = new FollowerSessions(store, auth, secrets, logger);
  const mirror = new MirrorCoordinator({
    store,
    hub,
    followers,
    secrets,
    reconcileSchedules: async (cluster) => {
      await schedules.reconcileCluster(cluster);
    },
    handOverSchedules: (cluster) => schedules.handOver(cluster),
    resumeSchedules: (cluster, cursors) => schedules.resume(cluster, cursors),
    holdSchedules: (cluster) => schedules.hold(cluster),
    logger,
  });
  metrics.watchMirror({ listClusters: () => store.listClusters(), status: (cluster) => mirror.status(cluster) });
  const api = createGrpcApi({
    store,
    hub,
    mirror,
    followers,
    auth,
    deploys,
    invokes: new InvokeGateway(store, lanes, redisVariable(redisSettings)),
    channels: new ChannelCatalog(store, hub, logger.child({ component: 'channels' })),
    security: new SecurityCatalog(store, hub, logger.child({ component: 'security' })),
    connections: new ConnectionCatalog(store, hub, logger.child({ component: 'connections' })),
    schedules,
    config: new ClusterConfig(store, hub, deploys, schedules, logger.child({ component: 'config' })),
    logger,
    limits: config.limits,
    secrets: new SecretKeyRotation(store, secrets, keys, logger.child({ component: 'secrets' })),
    metrics,
  });
  const port = await api.listen(config.grpcAddress, tls.credentials);
  // The web admin on the HTTP listener: no authority of its own, it calls this control plane's gRPC
  // API with the signed-in user's token, like the CLI would.
  let webAdmin: WebAdmin | undefined;
  if (config.httpAddress) {
    const target = apiTarget(config.grpcAddress, port, config.tls, config.dataDir);
    webAdmin = createWebAdmin({
      client: (token) => new ApiClient({ controlPlanes: [target.address], token, tls: target.tls }),
      secure: !isLoopbackAddress(config.httpAddress.host),
      logger,
      controlPlaneId: store.instanceId,
    });
  }
  // GET /metrics and /healthz (LANEWAY_HTTP_ADDR) and the web admin; a taken address fails the start, naming the variable.
  const http: RunningHttpListener | undefined =
    config.httpAddress &&
    (await startHttpListener({ ...config.httpAddress, metrics, healthy: () => store.ping().then(() => true, () => false), logger, webAdmin }).catch((err: unknown) => {
      api.server.forceShutdown();
      throw new Error(`LANEWAY_HTTP_ADDR=${config.httpAddress!.host}:${config.httpAddress!.port}: cannot listen there (${(err as Error).message}); give another address, or off for no HTTP listener`, { cause: err });
    }));
  scheduleKeeper.start();
  // Followed clusters resume pulling (from the source revision they applied); a promoted site whose old
  // source has not stepped down keeps telling it to.
  await mirror.start();
  logger.info(
    { address: config.grpcAddress, port, ...(http ? { http: `${config.httpAddress!.host}:${http.port}`, httpPort: http.port } : {}), store: config.databaseUrl ? 'postgresql' : `sqlite:${config.dataDir}`, ...tls.describe },
    'control plane listening',
  );
  if (admin.source === 'generated') {
    // The token itself never goes into the log (logs are shipped and kept elsewhere): main.ts shows
    // it on the terminal, and it stays in the file.
    logger.info({ file: admin.file }, 'generated the admin token');
  } else {
    logger.info({ source: admin.source, file: admin.file }, 'admin token loaded');
  }
  // Key ids only: never a key.
  logger.info({ source: keys.source, file: keys.file, keyId: keys.keyring.current?.id, keys: keys.keyring.ids().length }, keys.source === 'generated' ? 'generated the secret key' : 'secret keys loaded');
  if (store.shared && keys.source !== 'env') {
    logger.warn(
      { file: keys.file },
      'DATABASE_URL is set but LANEWAY_SECRET_KEY is not: secrets are sealed with this control plane\'s own key file, which other control planes sharing the database cannot open; give all of them the same LANEWAY_SECRET_KEY',
    );
  }
  return {
    port,
    httpPort: http?.port,
    store,
    adminToken: admin.token,
    adminTokenSource: admin.source,
    adminTokenFile: admin.file,
    async close() {
      await http?.close();
      webAdmin?.close();
      await feed?.stop();
      await mirror.close();
      await scheduleKeeper.close();
      hub.shutdown();
      api.health.stop();
      api.traffic.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          api.server.forceShutdown();
          resolve();
        }, 5000);
        api.server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await lanes.close();
      await scheduleQueues.close();
      await compiler.close();
      await store.close();
    },
  };
}
