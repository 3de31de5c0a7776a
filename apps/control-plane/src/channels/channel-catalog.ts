import type { Logger } from 'pino';
import { ResourceCatalog, type ResourceChange, type ResourceWait } from '../resources/resource-catalog';
import type { ClusterStore, ResourceRecord } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { channelSpecOf, checkChannelReferences, type ChannelInput, type ChannelSpecRecord } from './channel-spec';

/** The cluster's REST channels: the `channel` kind on the common resource machinery. */
export class ChannelCatalog {
  private readonly resources: ResourceCatalog<ChannelSpecRecord>;

  constructor(store: ClusterStore, hub: SyncHub, log: Logger) {
    this.resources = new ResourceCatalog<ChannelSpecRecord>('channel', store, hub, log, {
      checkPut: (name, spec, cluster, reader) => checkChannelReferences(name, spec, cluster, reader),
    });
  }

  create(cluster: string, input: ChannelInput, wait: ResourceWait): Promise<ResourceChange<ChannelSpecRecord>> {
    return this.resources.put(cluster, input.name, channelSpecOf(input), 'create', wait);
  }

  update(cluster: string, input: ChannelInput, wait: ResourceWait): Promise<ResourceChange<ChannelSpecRecord>> {
    return this.resources.put(cluster, input.name, channelSpecOf(input), 'update', wait);
  }

  describe(cluster: string, name: string): Promise<ResourceRecord<ChannelSpecRecord>> {
    return this.resources.describe(cluster, name);
  }

  list(cluster: string): Promise<{ revision: number; resources: ResourceRecord<ChannelSpecRecord>[] }> {
    return this.resources.list(cluster);
  }

  delete(cluster: string, name: string, wait: ResourceWait): Promise<ResourceChange<ChannelSpecRecord>> {
    return this.resources.delete(cluster, name, wait);
  }
}
