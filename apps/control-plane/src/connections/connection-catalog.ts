import type { ConnectionSpec, ConnectionTestResult } from '@laneway/proto';
import type { Logger } from 'pino';
import { NotFoundError } from '../errors';
import { ResourceCatalog, type ResourceChange, type ResourceWait } from '../resources/resource-catalog';
import type { ClusterStore, ResourceRecord } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { checkConnectionUnused, connectionSpecOf, type ConnectionSpecRecord } from './connection-spec';

const DEFAULT_TEST_MS = 10_000;

/** The cluster's outgoing connections: the `connection` kind on the common resource machinery. */
export class ConnectionCatalog {
  private readonly resources: ResourceCatalog<ConnectionSpecRecord>;

  constructor(
    private readonly store: ClusterStore,
    private readonly hub: SyncHub,
    log: Logger,
  ) {
    this.resources = new ResourceCatalog<ConnectionSpecRecord>('connection', store, hub, log, { checkDelete: checkConnectionUnused });
  }

  create(cluster: string, name: string, spec: ConnectionSpec | undefined, wait: ResourceWait): Promise<ResourceChange<ConnectionSpecRecord>> {
    return this.resources.put(cluster, name, connectionSpecOf(name, spec), 'create', wait);
  }

  async update(cluster: string, name: string, spec: ConnectionSpec | undefined, wait: ResourceWait): Promise<ResourceChange<ConnectionSpecRecord>> {
    // Secrets left empty keep the stored ones; a missing connection is NOT_FOUND from the store either way.
    const previous = await this.resources.describe(cluster, name).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    return this.resources.put(cluster, name, connectionSpecOf(name, spec, previous?.spec), 'update', wait);
  }

  describe(cluster: string, name: string): Promise<ResourceRecord<ConnectionSpecRecord>> {
    return this.resources.describe(cluster, name);
  }

  list(cluster: string): Promise<{ revision: number; resources: ResourceRecord<ConnectionSpecRecord>[] }> {
    return this.resources.list(cluster);
  }

  delete(cluster: string, name: string, wait: ResourceWait): Promise<ResourceChange<ConnectionSpecRecord>> {
    return this.resources.delete(cluster, name, wait);
  }

  /** The deployed services that declare each connection, by connection name. */
  async usage(cluster: string): Promise<Map<string, string[]>> {
    const { services } = await this.store.listServices(cluster);
    const users = new Map<string, string[]>();
    for (const service of services) {
      for (const connection of service.connections) users.set(connection, [...(users.get(connection) ?? []), service.name]);
    }
    return users;
  }

  /** Asks every server connected here to open the connection; NOT_FOUND when the cluster has none of that name. */
  async test(cluster: string, name: string, timeoutMs: number): Promise<ConnectionTestResult[]> {
    await this.resources.describe(cluster, name);
    return this.hub.testConnection(cluster, name, timeoutMs || DEFAULT_TEST_MS);
  }
}
