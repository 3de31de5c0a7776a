import type { Logger } from 'pino';
import { NotFoundError } from '../errors';
import { ResourceCatalog, type ResourceChange, type ResourceWait } from '../resources/resource-catalog';
import type { ClusterStore, ResourceRecord } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { checkSecurityUnused, securitySpecOf, type SecurityInput, type SecuritySpecRecord } from './security-spec';

/** The cluster's security definitions: the `security` kind on the common resource machinery. */
export class SecurityCatalog {
  private readonly resources: ResourceCatalog<SecuritySpecRecord>;

  constructor(store: ClusterStore, hub: SyncHub, log: Logger) {
    this.resources = new ResourceCatalog<SecuritySpecRecord>('security', store, hub, log, { checkDelete: checkSecurityUnused });
  }

  create(cluster: string, input: SecurityInput, wait: ResourceWait): Promise<ResourceChange<SecuritySpecRecord>> {
    return this.resources.put(cluster, input.name, securitySpecOf(input), 'create', wait);
  }

  async update(cluster: string, input: SecurityInput, wait: ResourceWait): Promise<ResourceChange<SecuritySpecRecord>> {
    // Secrets left empty keep the stored ones; a missing definition is NOT_FOUND from the store either way.
    const previous = await this.resources.describe(cluster, input.name).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    return this.resources.put(cluster, input.name, securitySpecOf(input, previous?.spec), 'update', wait);
  }

  describe(cluster: string, name: string): Promise<ResourceRecord<SecuritySpecRecord>> {
    return this.resources.describe(cluster, name);
  }

  list(cluster: string): Promise<{ revision: number; resources: ResourceRecord<SecuritySpecRecord>[] }> {
    return this.resources.list(cluster);
  }

  delete(cluster: string, name: string, wait: ResourceWait): Promise<ResourceChange<SecuritySpecRecord>> {
    return this.resources.delete(cluster, name, wait);
  }
}
