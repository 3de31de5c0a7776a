// Test and benchmark harness: runs the built apps (dist/) as real child processes and talks to them
// over their real APIs. Used by e2e/ and tools/bench; never by the apps.
export { Api } from './api';
export { startCluster, type TestCluster, type TestClusterOptions } from './cluster';
export { TcpRelay } from './relay';
export { axeViolations, CHROMIUM_ARGS, CHROMIUM_PATH, DESKTOP, launchChromium, PHONE, signIn, type AxeViolation } from './browser';
export { cleanRedisPrefix, createTestDatabase, uniqueName, eventually, withPgAdmin } from './fixtures';
export { startRedisServer, type OwnRedisServer } from './redis-server';
export { startRedisCluster, startRedisSentinel, type OwnRedisCluster, type OwnRedisSentinel } from './redis-cluster';
export {
  ADMIN_TOKEN,
  AppProcess,
  DIST,
  REDIS_URL,
  ROOT,
  runCli,
  startControlPlane,
  startServer,
  freePort,
  requireHaproxy,
  stopChild,
  type ControlPlaneHandle,
  type LogLine,
} from './processes';
