import { WaitFor, type ServerApplyResult } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ClusterStore, ResourceRecord } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import { channelSpecOf, checkChannelReferences, type ChannelInput, type ChannelSpecRecord } from './channel-spec';

export interface ChannelWait {
  waitFor: WaitFor;
  /** 0 = 10 s. */
  timeoutMs: number;
}

export interface ChannelChange {
  revision: number;
  channel: ResourceRecord<ChannelSpecRecord> | undefined;
  servers: ServerApplyResult[];
}

const DEFAULT_WAIT_MS = 10_000;

/**
 * The cluster's REST channels: each change is checked against the cluster inside its transaction
 * (service deployed, route free), bumps the revision, is pushed like a deployment and, unless told
 * otherwise, waits for every connected server's ACK or NACK.
 */
export class ChannelCatalog {
  constructor(
    private readonly store: ClusterStore,
    private readonly hub: SyncHub,
    private readonly log: Logger,
  ) {}

  create(cluster: string, input: ChannelInput, wait: ChannelWait): Promise<ChannelChange> {
    return this.put(cluster, input, 'create', wait);
  }

  update(cluster: string, input: ChannelInput, wait: ChannelWait): Promise<ChannelChange> {
    return this.put(cluster, input, 'update', wait);
  }

  describe(cluster: string, name: string): Promise<ResourceRecord<ChannelSpecRecord>> {
    return this.store.getResource<ChannelSpecRecord>(cluster, 'channel', name);
  }

  list(cluster: string): Promise<{ revision: number; resources: ResourceRecord<ChannelSpecRecord>[] }> {
    return this.store.listResources<ChannelSpecRecord>(cluster, 'channel');
  }

  async delete(cluster: string, name: string, wait: ChannelWait): Promise<ChannelChange> {
    const { revision } = await this.store.deleteResource(cluster, 'channel', name);
    this.hub.notify(cluster);
    this.log.info({ cluster, revision, channel: name }, 'channel deleted');
    return { revision, channel: undefined, servers: await this.wait(cluster, revision, wait) };
  }

  private async put(cluster: string, input: ChannelInput, mode: 'create' | 'update', wait: ChannelWait): Promise<ChannelChange> {
    const spec = channelSpecOf(input);
    const result = await this.store.putResource(cluster, 'channel', input.name, spec, mode, (reader) =>
      checkChannelReferences(input.name, spec, cluster, reader),
    );
    if (result.changed) {
      this.hub.notify(cluster);
      this.log.info({ cluster, revision: result.revision, channel: input.name, method: spec.method, path: spec.path }, mode === 'create' ? 'channel created' : 'channel updated');
    }
    return { revision: result.revision, channel: result.record, servers: await this.wait(cluster, result.revision, wait) };
  }

  private async wait(cluster: string, revision: number, wait: ChannelWait): Promise<ServerApplyResult[]> {
    if (wait.waitFor === WaitFor.WAIT_FOR_NONE) return [];
    return this.hub.waitForServers(cluster, revision, wait.timeoutMs || DEFAULT_WAIT_MS);
  }
}
