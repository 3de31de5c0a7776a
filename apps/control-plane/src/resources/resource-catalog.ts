import { WaitFor, type ServerApplyResult } from '@laneway/proto';
import type { Logger } from 'pino';
import { NotFoundError } from '../errors';
import type { ClusterStore, ResourceKind, ResourceReader, ResourceRecord } from '../store';
import type { SyncHub } from '../sync/sync-hub';

export interface ResourceWait {
  waitFor: WaitFor;
  /** 0 = 10 s. */
  timeoutMs: number;
}

export interface ResourceChange<Spec> {
  revision: number;
  record: ResourceRecord<Spec> | undefined;
  servers: ServerApplyResult[];
}

/** What one kind adds to the common machinery: its checks against the rest of the cluster. */
export interface ResourceRules<Spec> {
  /** Run inside a create's or update's transaction: references exist, nothing clashes. */
  checkPut?(name: string, spec: Spec, cluster: string, reader: ResourceReader): Promise<void>;
  /** Run inside a delete's transaction: refuse while something uses it. */
  checkDelete?(name: string, cluster: string, reader: ResourceReader): Promise<void>;
}

const DEFAULT_WAIT_MS = 10_000;

/**
 * The changes of one kind of cluster resource, the same for every kind: checked inside the change's
 * transaction, one revision bump, pushed to the servers like a deployment and, unless told otherwise,
 * waiting for every connected server's ACK or NACK.
 */
export class ResourceCatalog<Spec> {
  constructor(
    private readonly kind: ResourceKind,
    private readonly store: ClusterStore,
    private readonly hub: SyncHub,
    private readonly log: Logger,
    private readonly rules: ResourceRules<Spec> = {},
  ) {}

  async put(cluster: string, name: string, spec: Spec, mode: 'create' | 'update', wait: ResourceWait): Promise<ResourceChange<Spec>> {
    const { checkPut } = this.rules;
    const sealed = await this.sealed(cluster, name, spec);
    const result = await this.store.putResource(cluster, this.kind, name, sealed, mode, checkPut && ((reader) => checkPut(name, sealed, cluster, reader)));
    if (result.changed) {
      this.hub.notify(cluster);
      this.log.info({ cluster, revision: result.revision, kind: this.kind, name }, mode === 'create' ? 'resource created' : 'resource updated');
    }
    return { revision: result.revision, record: result.record, servers: await this.wait(cluster, result.revision, wait) };
  }

  async delete(cluster: string, name: string, wait: ResourceWait): Promise<ResourceChange<Spec>> {
    const { checkDelete } = this.rules;
    const { revision } = await this.store.deleteResource(cluster, this.kind, name, checkDelete && ((reader) => checkDelete(name, cluster, reader)));
    this.hub.notify(cluster);
    this.log.info({ cluster, revision, kind: this.kind, name }, 'resource deleted');
    return { revision, record: undefined, servers: await this.wait(cluster, revision, wait) };
  }

  describe(cluster: string, name: string): Promise<ResourceRecord<Spec>> {
    return this.store.getResource<Spec>(cluster, this.kind, name);
  }

  list(cluster: string): Promise<{ revision: number; resources: ResourceRecord<Spec>[] }> {
    return this.store.listResources<Spec>(cluster, this.kind);
  }

  /**
   * The spec as stored: its secret fields (secrets/secret-fields.ts) sealed with the hub's keys. A
   * field that holds the stored sealed value or the same plaintext keeps the stored value, so an
   * update that changes nothing keeps the version. Read back (describe, list, answers) it stays sealed.
   */
  private async sealed(cluster: string, name: string, spec: Spec): Promise<Spec> {
    const { secrets } = this.hub;
    if (!secrets.has(this.kind)) return spec;
    const stored = await this.store.getResource<Spec>(cluster, this.kind, name).then(
      (record) => record.spec,
      (err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      },
    );
    return secrets.seal(cluster, this.kind, name, spec, stored);
  }

  private async wait(cluster: string, revision: number, wait: ResourceWait): Promise<ServerApplyResult[]> {
    if (wait.waitFor === WaitFor.WAIT_FOR_NONE) return [];
    return this.hub.waitForServers(cluster, revision, wait.timeoutMs || DEFAULT_WAIT_MS);
  }
}
