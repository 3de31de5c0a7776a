import type { Metadata } from '@grpc/grpc-js';
import type { ConnectionServiceServer } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ConnectionCatalog } from '../connections/connection-catalog';
import { connectionOf, type ConnectionSpecRecord } from '../connections/connection-spec';
import type { ResourceChange } from '../resources/resource-catalog';
import { unary } from './grpc-errors';
import type { RequestChecks } from '../checks/request-checks';

/** ConnectionService: the wire side of {@link ConnectionCatalog}. No answer carries a password, token or key. */
export function connectionHandlers(
  catalog: ConnectionCatalog,
  check: RequestChecks,
  log: Logger,
  admin: (metadata: Metadata, method: string) => Promise<void>,
): ConnectionServiceServer {
  const cluster = (req: { cluster: string }) => check.name('cluster', req.cluster);
  const name = (req: { name: string }) => check.name('name', req.name, 'give the name of a connection (see ListConnections)');
  const wait = (req: { waitFor: number; waitTimeoutMs: number }) => ({ waitFor: req.waitFor, timeoutMs: check.timeoutMs('wait_timeout_ms', req.waitTimeoutMs) });
  const toChange = async (c: string, change: ResourceChange<ConnectionSpecRecord>) => ({
    revision: change.revision,
    connection: change.record && connectionOf(change.record, (await catalog.usage(c)).get(change.record.name) ?? []),
    servers: change.servers,
  });
  return {
    createConnection: unary('CreateConnection', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.create(c, name(req), req.spec, wait(req)));
    }),
    updateConnection: unary('UpdateConnection', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.update(c, name(req), req.spec, wait(req)));
    }),
    getConnection: unary('GetConnection', log, admin, async (req) => {
      const c = cluster(req);
      const record = await catalog.describe(c, name(req));
      return connectionOf(record, (await catalog.usage(c)).get(record.name) ?? []);
    }),
    listConnections: unary('ListConnections', log, admin, async (req) => {
      const c = cluster(req);
      const [listed, usage] = await Promise.all([catalog.list(c), catalog.usage(c)]);
      return { revision: listed.revision, connections: listed.resources.map((r) => connectionOf(r, usage.get(r.name) ?? [])) };
    }),
    deleteConnection: unary('DeleteConnection', log, admin, async (req) => {
      const c = cluster(req);
      return toChange(c, await catalog.delete(c, name(req), wait(req)));
    }),
    testConnection: unary('TestConnection', log, admin, async (req) => {
      const c = cluster(req);
      return { servers: await catalog.test(c, name(req), check.timeoutMs('timeout_ms', req.timeoutMs)) };
    }),
  };
}
