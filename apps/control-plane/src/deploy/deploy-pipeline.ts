import { Lane, WaitFor, type ServerApplyResult } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ChannelSpecRecord } from '../channels/channel-spec';
import { FailedPreconditionError, InvalidArgumentError } from '../errors';
import type { ScheduleSpecRecord } from '../schedules/schedule-spec';
import type { ClusterStore, DeployedServiceRecord, NewServiceVersion } from '../store';
import type { SyncHub } from '../sync/sync-hub';
import type { SourceFileInput } from './compile-service-file';
import type { CompilerPool } from './compiler-pool';
import { ValidatedFiles } from './validated-files';

export interface DeployOptions {
  waitFor: WaitFor;
  /** 0 = default. */
  timeoutMs: number;
}

export interface DeployOutcome {
  revision: number;
  services: DeployedServiceRecord[];
  servers: ServerApplyResult[];
}

const DEFAULT_WAIT_MS = 10_000;

/**
 * validate (compile + load in a sandbox, in the compile processes) -> store (one transaction, revision bump) -> push -> wait.
 * Any failure before the store step leaves the cluster exactly as it was.
 */
export class DeployPipeline {
  // Compile and inspection outcomes by (path, content), shared by every cluster.
  private readonly validated: ValidatedFiles;
  private readonly changeListeners: ((cluster: string) => void)[] = [];

  constructor(
    private readonly store: ClusterStore,
    private readonly hub: SyncHub,
    private readonly log: Logger,
    compiler: CompilerPool,
  ) {
    this.validated = new ValidatedFiles(compiler);
  }

  /** Called after a deploy or a rollback stored a change of the cluster's services (what depends on their lanes follows). */
  onServicesChanged(listener: (cluster: string) => void): void {
    this.changeListeners.push(listener);
  }

  async deploy(cluster: string, files: readonly SourceFileInput[], options: DeployOptions): Promise<DeployOutcome> {
    // The upload's shape and size were checked at the API edge (RequestChecks.files).
    // Unknown cluster fails before any compile work.
    await this.store.getCluster(cluster);
    const started = performance.now();
    const { services, compiledFiles, compileMs } = await this.validated.validate(files);
    const validatedMs = performance.now() - started;
    const stored = await this.store.deployServices(cluster, services);
    const storedMs = performance.now() - started;
    const changed = stored.services.some((s) => s.changed);
    if (changed) {
      this.hub.notify(cluster, stored.delta);
      this.servicesChanged(cluster);
    }
    const servers = await this.waitIfAsked(cluster, stored.revision, options);
    this.log.info(
      {
        cluster,
        revision: stored.revision,
        files: files.length,
        compiledFiles,
        services: services.length,
        changed: stored.services.filter((s) => s.changed).length,
        compileMs: Math.round(compileMs),
        validatedMs: Math.round(validatedMs),
        storedMs: Math.round(storedMs),
        totalMs: Math.round(performance.now() - started),
      },
      'deployed',
    );
    return { revision: stored.revision, services: stored.services, servers };
  }

  /** Compiles and inspects files as a deploy would, storing nothing (ApplyConfig plans with it). */
  validate(files: readonly SourceFileInput[]): Promise<{ services: NewServiceVersion[] }> {
    return this.validated.validate(files);
  }

  async undeploy(cluster: string, name: string, options: DeployOptions): Promise<{ revision: number; servers: ServerApplyResult[] }> {
    if (!name) throw new InvalidArgumentError('name', 'name is empty: give the name of the service to undeploy');
    const { revision } = await this.store.undeployService(cluster, name, async (reader) => {
      const users = (await reader.listResources<ChannelSpecRecord>('channel')).filter((c) => c.spec.service === name).map((c) => c.name);
      if (users.length) {
        throw new FailedPreconditionError(`service '${name}' is used by channel(s) ${users.map((u) => `'${u}'`).join(', ')}: delete or repoint them first`, {
          service: name,
          channels: users,
        });
      }
      const schedules = (await reader.listResources<ScheduleSpecRecord>('schedule')).filter((r) => r.spec.service === name).map((r) => r.name);
      if (schedules.length) {
        throw new FailedPreconditionError(
          `service '${name}' is run by schedule(s) ${schedules.map((u) => `'${u}'`).join(', ')}: delete or repoint them first`,
          { service: name, schedules },
        );
      }
    });
    this.hub.notify(cluster);
    const servers = await this.waitIfAsked(cluster, revision, options);
    this.log.info({ cluster, revision, service: name }, 'undeployed');
    return { revision, servers };
  }

  async rollback(
    cluster: string,
    service: string,
    version: string,
    options: DeployOptions,
  ): Promise<{ revision: number; service: DeployedServiceRecord; servers: ServerApplyResult[] }> {
    if (!service) throw new InvalidArgumentError('service', 'service is empty: give the name of the service to roll back');
    if (!version) throw new InvalidArgumentError('version', 'version is empty: pick one from ListServiceVersions');
    const result = await this.store.rollbackService(cluster, service, version);
    if (result.service.changed) {
      this.hub.notify(cluster);
      this.servicesChanged(cluster);
    }
    const servers = await this.waitIfAsked(cluster, result.revision, options);
    this.log.info({ cluster, revision: result.revision, service, version: result.service.version }, 'rolled back');
    return { ...result, servers };
  }

  private servicesChanged(cluster: string): void {
    for (const listener of this.changeListeners) listener(cluster);
  }

  private async waitIfAsked(cluster: string, revision: number, options: DeployOptions): Promise<ServerApplyResult[]> {
    if (options.waitFor === WaitFor.WAIT_FOR_NONE) return [];
    return this.hub.waitForServers(cluster, revision, options.timeoutMs || DEFAULT_WAIT_MS);
  }
}

export function laneToProto(lane: 'network' | 'cpu'): Lane {
  return lane === 'cpu' ? Lane.LANE_CPU : Lane.LANE_NETWORK;
}
