import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { status, type Metadata } from '@grpc/grpc-js';
import type { DiscardedChange, FollowRequest, HandOverRequest, HandOverResponse, MirrorFollower, MirrorServiceClient, MirrorStatus, PromoteRequest, StepDownRequest } from '@laneway/proto';
import { MirrorRole } from '@laneway/proto';
import type { Logger } from 'pino';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../errors';
import type { ResourceSecrets } from '../secrets/resource-secrets';
import { auditScope, type ClusterStore, type DiscardedRecord, type MirrorRoleName, type MirrorStateRecord, type PulledChange } from '../store';
import type { FollowerSessions } from '../sync/follower-sessions';
import type { SyncHub } from '../sync/sync-hub';
import { FollowerLink } from './follower-link';
import { describeSourceError, probeSource, sourceClient, type SourceTarget } from './source-client';

/** How long a source handing over refuses writes before it resumes on its own (the follower gave up). */
const HANDOVER_MS = 30_000;
/** How long a planned switchover waits for the follower to apply the source's final revision. */
const CATCH_UP_MS = 20_000;
/** How often a promoted site retries telling its old source to step down. */
const STEP_DOWN_RETRY_MS = 1000;
const CALL_DEADLINE_MS = 5000;

export interface MirrorCoordinatorOptions {
  store: ClusterStore;
  hub: SyncHub;
  followers: FollowerSessions;
  secrets: ResourceSecrets;
  /**
   * Makes the cluster's job schedulers in this site's Redis match whether it is writable: armed on a
   * source or standalone cluster, removed on a follower or a source handing over.
   */
  reconcileSchedules(cluster: string): Promise<void>;
  /** Planned switchover, source: removes the schedules' job schedulers, answering where each stopped. */
  handOverSchedules(cluster: string): Promise<{ name: string; nextDueMs: number }[]>;
  /** Planned switchover, new source: arms the schedules from where the old source stopped. */
  resumeSchedules(cluster: string, cursors: readonly { name: string; nextDueMs: number }[]): Promise<void>;
  /**
   * Planned switchover, new source: keeps the periodic schedule check from arming the cluster's
   * schedules afresh between its promotion and resumeSchedules (which would move them off the old
   * source's ticks and lose the one due next). Returns the release.
   */
  holdSchedules(cluster: string): () => void;
  logger: Logger;
}

const ROLES: Record<MirrorRoleName, MirrorRole> = {
  standalone: MirrorRole.MIRROR_ROLE_STANDALONE,
  source: MirrorRole.MIRROR_ROLE_SOURCE,
  follower: MirrorRole.MIRROR_ROLE_FOLLOWER,
};

/**
 * Mirroring on this control plane: the follower links it runs, promotion (planned switchover and
 * forced failover), and the orders it takes as a source (hand over, step down), fenced by epochs.
 */
export class MirrorCoordinator {
  private readonly links = new Map<string, FollowerLink>();
  private readonly stepDownTimers = new Map<string, NodeJS.Timeout>();
  private readonly handoverTimers = new Map<string, NodeJS.Timeout>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: MirrorCoordinatorOptions) {
    this.log = opts.logger.child({ component: 'mirror' });
    opts.hub.onChange((cluster) => opts.followers.changed(cluster));
  }

  /** Resumes the links of followed clusters, and the step-down orders a promoted site still owes. */
  async start(): Promise<void> {
    for (const entry of await this.opts.store.listMirrorLinks()) {
      try {
        if (entry.role === 'follower') await this.startLink(entry.cluster, false);
        else if (entry.stepDownPending) this.scheduleStepDown(entry.cluster, 0);
      } catch (err) {
        this.log.warn({ err, cluster: entry.cluster }, 'could not resume mirroring of the cluster');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const link of this.links.values()) link.stop();
    this.links.clear();
    for (const timer of [...this.stepDownTimers.values(), ...this.handoverTimers.values()]) clearTimeout(timer);
    this.opts.followers.shutdown();
  }

  async createToken(cluster: string): Promise<string> {
    const token = await this.opts.store.createMirrorToken(cluster);
    this.log.info({ cluster }, 'mirror token created');
    return token;
  }

  async follow(request: FollowRequest): Promise<MirrorStatus> {
    const cluster = request.cluster;
    const sourceCluster = request.sourceCluster || cluster;
    checkAddress('source_address', request.sourceAddress);
    if (!request.token) throw new InvalidArgumentError('token', 'token is empty: give the mirror token created on the source (laneway mirror token CLUSTER)');
    if (request.caPem && !request.caPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new InvalidArgumentError('ca_pem', 'ca_pem is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)');
    }
    const target: SourceTarget = { address: request.sourceAddress, token: request.token, caPem: request.caPem };
    let epoch = 0;
    try {
      epoch = (await this.opts.store.getMirrorState(cluster)).epoch;
    } catch {
      // The cluster does not exist yet: it is created below, at epoch 0.
    }
    // First the source must answer, so a wrong address, token, CA or cluster is an error and nothing is stored.
    try {
      await probeSource(target, sourceCluster, this.followerId(cluster, request.token), cluster, epoch);
    } catch (err) {
      const e = err as { code?: number; message: string };
      const code = e.code === status.UNAUTHENTICATED || e.code === status.PERMISSION_DENIED ? 'token' : e.code === status.NOT_FOUND ? 'source_cluster' : 'source_address';
      if (e.code === status.UNAVAILABLE) {
        throw new UnavailableError(`cannot follow: ${e.message}${request.caPem ? ' (check that ca_pem signed the source\'s certificate)' : ''}`);
      }
      if (e.code === status.FAILED_PRECONDITION) throw new FailedPreconditionError(`cannot follow: ${e.message}`);
      throw new InvalidArgumentError(code, `cannot follow: ${e.message}`);
    }
    this.stopLink(cluster);
    await this.opts.store.startFollowing(cluster, { sourceAddress: target.address, sourceCluster, sealedToken: this.sealToken(cluster, request.token), caPem: request.caPem }, request.replace);
    this.log.info({ cluster, source: target.address, sourceCluster }, 'following');
    await this.opts.reconcileSchedules(cluster).catch((err: unknown) => this.log.warn({ err, cluster }, 'could not disarm the schedules of the follower'));
    await this.startLink(cluster, true);
    return this.status(cluster);
  }

  async status(cluster: string): Promise<MirrorStatus> {
    const state = await this.opts.store.getMirrorState(cluster);
    return this.toStatus(state);
  }

  /**
   * Follower → writable. Planned (the source reachable): the source stops taking writes and names its
   * final revision, this site applies up to it, takes the higher epoch, arms the schedules, and the old
   * source steps down to follow it. Forced: at once, and the old source is told when it is back.
   */
  async promote(request: PromoteRequest): Promise<{ status: MirrorStatus; oldSourceFollowing: boolean }> {
    const cluster = request.cluster;
    if (request.address) checkAddress('address', request.address);
    if (request.caPem && !request.caPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new InvalidArgumentError('ca_pem', 'ca_pem is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)');
    }
    const state = await this.opts.store.getMirrorState(cluster);
    if (state.role !== 'follower' || !state.link) {
      throw new FailedPreconditionError(`cluster '${cluster}' is not a follower (it is ${state.role}): only a follower can be promoted`);
    }
    const link = this.links.get(cluster);
    const target = this.targetOf(cluster, state);
    const sourceCluster = state.link.sourceCluster;
    const advertise = { advertiseAddress: request.address, advertiseCaPem: request.caPem };
    if (!request.force) {
      const { client, metadata } = sourceClient(target);
      try {
        const epoch = state.epoch + 1;
        let finalRevision: number;
        let cursors: { name: string; nextDueMs: number }[];
        try {
          const answer = await call<HandOverRequest, HandOverResponse>(client, 'handOver', metadata(), {
            cluster: sourceCluster,
            epoch,
            followerId: this.followerId(cluster, target.token),
            newSource: request.address ? `cluster '${cluster}' at ${request.address}` : `cluster '${cluster}'`,
          });
          finalRevision = answer.finalRevision;
          cursors = answer.schedules;
        } catch (err) {
          const { code, message } = describeSourceError(target.address, err);
          if (code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED) {
            throw new UnavailableError(`${message}: a planned switchover needs the source; if it is gone, promote with force (laneway mirror promote ${cluster} --force)`);
          }
          throw new FailedPreconditionError(`the source refused the handover: ${message}`);
        }
        if (!link) throw new UnavailableError(`the link of cluster '${cluster}' is not running on this control plane`);
        try {
          await link.waitFor(finalRevision, CATCH_UP_MS);
        } catch (err) {
          throw new UnavailableError(`${(err as Error).message}: the source resumes writes when its handover times out (${HANDOVER_MS / 1000} s); try again`);
        }
        this.stopLink(cluster);
        // The schedules go on from where the old source stopped them: no tick twice, none skipped. Held
        // from before the promotion, so that a periodic check seeing the cluster writable cannot arm them
        // afresh before the resume (which would keep that fresh tick: the next one lost, the rest off the grid).
        const release = this.opts.holdSchedules(cluster);
        try {
          const promoted = await this.opts.store.promote(cluster, { epoch, ...advertise });
          this.log.info({ cluster, epoch: promoted.epoch, finalRevision }, 'promoted: planned switchover, nothing lost');
          await this.opts.resumeSchedules(cluster, cursors).catch(async (err: unknown) => {
            this.log.warn({ err, cluster }, 'could not resume the schedules from the old source\'s ticks; arming them afresh');
            release();
            await this.armSchedules(cluster);
          });
        } finally {
          release();
        }
        const following = await this.tellStepDown(cluster).catch((err: unknown) => {
          this.log.warn({ err: (err as Error).message, cluster }, 'the old source did not step down yet; retrying');
          this.scheduleStepDown(cluster, STEP_DOWN_RETRY_MS);
          return false;
        });
        return { status: await this.status(cluster), oldSourceFollowing: following };
      } finally {
        client.close();
      }
    }
    this.stopLink(cluster);
    const promoted = await this.opts.store.promote(cluster, advertise);
    this.log.warn({ cluster, epoch: promoted.epoch, fenceRevision: promoted.fenceRevision }, 'promoted by force: what the old source committed after its revision fenceRevision will be discarded when it returns');
    await this.armSchedules(cluster);
    let following = false;
    try {
      following = await this.tellStepDown(cluster);
    } catch (err) {
      this.log.info({ cluster, reason: (err as Error).message }, 'the old source is not reachable; it will be told to step down when it is');
      this.scheduleStepDown(cluster, STEP_DOWN_RETRY_MS);
    }
    return { status: await this.status(cluster), oldSourceFollowing: following };
  }

  /** Source: a follower being promoted asks this site to stop taking writes; answers with the final revision. */
  async handOver(request: HandOverRequest): Promise<HandOverResponse> {
    const cluster = request.cluster;
    const finalRevision = await this.opts.store.beginHandOver(cluster, request.epoch, request.newSource, Date.now() + HANDOVER_MS);
    this.log.warn({ cluster, to: request.newSource, epoch: request.epoch, finalRevision }, 'handing over: writes are refused until the new source takes over');
    // No tick fires here from now on: the new source arms the schedules, from these cursors, once it is writable.
    let schedules: { name: string; nextDueMs: number }[] = [];
    try {
      schedules = await this.opts.handOverSchedules(cluster);
    } catch (err) {
      this.log.warn({ err, cluster }, 'could not hand the schedules over (Redis?); the new source arms them afresh');
      await this.opts.reconcileSchedules(cluster).catch(() => undefined);
    }
    clearTimeout(this.handoverTimers.get(cluster));
    const timer = setTimeout(() => {
      this.handoverTimers.delete(cluster);
      void (async () => {
        const state = await this.opts.store.getMirrorState(cluster);
        if (state.role === 'follower') return;
        await this.opts.store.cancelHandOver(cluster);
        this.log.warn({ cluster }, 'the handover did not complete in time: writes resume here');
        await this.armSchedules(cluster);
      })().catch((err: unknown) => this.log.warn({ err, cluster }, 'could not end the handover'));
    }, HANDOVER_MS + 100);
    timer.unref();
    this.handoverTimers.set(cluster, timer);
    return { finalRevision, schedules };
  }

  /** Old source: a new source of a higher epoch orders this site to follow it. */
  async stepDown(request: StepDownRequest): Promise<DiscardedChange[]> {
    const cluster = request.cluster;
    checkAddress('source_address', request.sourceAddress);
    if (!request.token) throw new InvalidArgumentError('token', 'token is empty: the new source must give a mirror token');
    const discarded = await this.opts.store.stepDown(cluster, {
      epoch: request.epoch,
      fenceRevision: request.fenceRevision,
      link: { sourceAddress: request.sourceAddress, sourceCluster: request.sourceCluster || cluster, sealedToken: this.sealToken(cluster, request.token), caPem: request.caPem },
    });
    clearTimeout(this.handoverTimers.get(cluster));
    this.handoverTimers.delete(cluster);
    this.stopLink(cluster);
    if (discarded.length) {
      this.log.warn(
        { cluster, epoch: request.epoch, discarded: discarded.map((d) => `${d.kind} ${d.name} @${d.revision}`) },
        'stepped down to follow the new source: changes made here after the split are discarded',
      );
    } else {
      this.log.info({ cluster, epoch: request.epoch, source: request.sourceAddress }, 'stepped down to follow the new source');
    }
    this.opts.followers.endAll(cluster, `cluster '${cluster}' stepped down: it now follows ${request.sourceCluster || cluster} at ${request.sourceAddress}`);
    await this.opts.reconcileSchedules(cluster).catch((err: unknown) => this.log.warn({ err, cluster }, 'could not disarm the schedules after stepping down'));
    // The first pull is a full snapshot that replaces what this site holds; not awaited (the caller is
    // the new source, which this link will call back).
    void this.startLink(cluster, false).catch((err: unknown) => this.log.warn({ err, cluster }, 'could not start following the new source'));
    return discarded.map(discardedToWire);
  }

  /** Applies one pulled change to this site's store, sealing secrets with this site's key. */
  private apply(cluster: string, change: PulledChange, source: string): Promise<{ revision: number; changed: boolean }> {
    // Audited as the link's own change (whatever call's context the stream's events run in).
    const scope = { actor: `mirror-link:${source}`, peer: source, rpc: 'laneway.v1.MirrorService/Pull', cluster, kind: 'mirror', name: '', traceId: '', written: 0 };
    return auditScope.run(scope, () =>
      this.opts.store.applyPulled(cluster, change, (kind, name, spec, stored) => this.opts.secrets.seal(cluster, kind, name, spec, stored)),
    );
  }

  private async startLink(cluster: string, waitFirst: boolean): Promise<void> {
    if (this.closed) return;
    const state = await this.opts.store.getMirrorState(cluster);
    if (state.role !== 'follower' || !state.link) return;
    this.stopLink(cluster);
    const target = this.targetOf(cluster, state);
    const link = new FollowerLink({
      cluster,
      sourceCluster: state.link.sourceCluster,
      target,
      followerId: this.followerId(cluster, target.token),
      store: this.opts.store,
      apply: (change) => this.apply(cluster, change, target.address),
      applied: () => this.opts.hub.notify(cluster),
      logger: this.log,
    });
    this.links.set(cluster, link);
    const first = link.start();
    if (waitFirst) {
      await first.catch((err: Error) => {
        throw new UnavailableError(`following is set up, but the first pull failed (it is retried): ${err.message}`);
      });
    } else {
      first.catch(() => undefined);
    }
  }

  private stopLink(cluster: string): void {
    this.links.get(cluster)?.stop();
    this.links.delete(cluster);
  }

  private async armSchedules(cluster: string): Promise<void> {
    await this.opts.reconcileSchedules(cluster).catch((err: unknown) => this.log.warn({ err, cluster }, 'could not arm the schedules; the schedule keeper retries'));
  }

  /** Promoted site: orders the old source to step down and follow this site. Resolves true once it has. */
  private async tellStepDown(cluster: string): Promise<boolean> {
    const state = await this.opts.store.getMirrorState(cluster);
    if (state.role !== 'source' || !state.link?.stepDownPending) return false;
    if (!state.link.advertiseAddress) {
      this.log.warn({ cluster }, 'promoted without an address for the old source to follow: it is not told to step down (give --address)');
      await this.opts.store.stepDownDone(cluster);
      return false;
    }
    const target = this.targetOf(cluster, state);
    const token = await this.opts.store.createMirrorToken(cluster);
    const { client, metadata } = sourceClient(target);
    try {
      const response = await call<StepDownRequest, { discarded: DiscardedChange[] }>(client, 'stepDown', metadata(), {
        cluster: state.link.sourceCluster,
        epoch: state.epoch,
        sourceAddress: state.link.advertiseAddress,
        sourceCluster: cluster,
        token,
        caPem: state.link.advertiseCaPem,
        fenceRevision: state.link.fenceRevision,
      });
      await this.opts.store.stepDownDone(cluster);
      this.log.info(
        { cluster, oldSource: target.address, discarded: response.discarded.map((d) => `${d.kind} ${d.name} @${d.revision}`) },
        'the old source stepped down and follows this site',
      );
      return true;
    } catch (err) {
      const { code, message } = describeSourceError(target.address, err);
      if (code === status.FAILED_PRECONDITION) {
        // It is at our epoch or above already (it stepped down before, or was promoted past us): nothing to order.
        this.log.warn({ cluster, reason: message }, 'the old source refused to step down; not retrying');
        await this.opts.store.stepDownDone(cluster);
        return false;
      }
      throw new Error(message);
    } finally {
      client.close();
    }
  }

  private scheduleStepDown(cluster: string, delayMs: number): void {
    if (this.closed || this.stepDownTimers.has(cluster)) return;
    const timer = setTimeout(() => {
      this.stepDownTimers.delete(cluster);
      this.tellStepDown(cluster).catch(() => this.scheduleStepDown(cluster, STEP_DOWN_RETRY_MS));
    }, delayMs);
    timer.unref();
    this.stepDownTimers.set(cluster, timer);
  }

  private targetOf(cluster: string, state: MirrorStateRecord): SourceTarget {
    if (!state.link) throw new FailedPreconditionError(`cluster '${cluster}' has no mirror link`);
    return { address: state.link.sourceAddress, token: this.openToken(cluster, state.link.sealedToken), caPem: state.link.caPem };
  }

  private sealToken(cluster: string, token: string): string {
    return this.opts.secrets.box.seal(token, `${cluster}/mirror/token`);
  }

  private openToken(cluster: string, sealed: string): string {
    return this.opts.secrets.box.open(sealed, `${cluster}/mirror/token`);
  }

  /** Stable across restarts, the same for every control plane of this site following with this token. */
  private followerId(cluster: string, token: string): string {
    return `${hostname()}/${cluster}#${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
  }

  private toStatus(state: MirrorStateRecord): MirrorStatus {
    const link = state.role === 'follower' ? this.links.get(state.cluster) : undefined;
    const live = new Map(this.opts.followers.connected(state.cluster).map((f) => [f.followerId, f]));
    const followers: MirrorFollower[] =
      state.role === 'follower'
        ? []
        : state.followers.map((f) => {
            const now = live.get(f.followerId);
            return {
              followerId: f.followerId,
              cluster: f.cluster,
              appliedRevision: now?.appliedRevision ?? f.appliedRevision,
              lastSeen: now ? now.lastSeen : f.lastSeen,
              connected: now !== undefined,
            };
          });
    const applied = state.link?.appliedSourceRevision ?? 0;
    return {
      cluster: state.cluster,
      role: ROLES[state.role],
      sourceAddress: state.role === 'follower' ? (state.link?.sourceAddress ?? '') : '',
      sourceCluster: state.role === 'follower' ? (state.link?.sourceCluster ?? '') : '',
      epoch: state.epoch,
      sourceRevision: state.role === 'follower' ? Math.max(link?.sourceRevision ?? 0, applied) : state.revision,
      appliedSourceRevision: state.role === 'follower' ? applied : 0,
      lagMs: link ? link.lagMs() : 0,
      connected: state.role === 'follower' ? (link?.connected ?? false) : false,
      lastError: link?.lastError ?? '',
      followers,
      revision: state.revision,
      discarded: state.discarded.map(discardedToWire),
      handingOver: state.handoverUntil !== undefined,
    };
  }
}

/** A control plane's gRPC address: HOST:PORT (a name, an IPv4 address or a bracketed IPv6 one). */
function checkAddress(field: string, address: string): void {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new InvalidArgumentError(field, `${field} ${JSON.stringify(address.slice(0, 300))} is not HOST:PORT (a port from 1 to 65535): give the control plane's gRPC address`);
  }
}

function discardedToWire(d: DiscardedRecord): DiscardedChange {
  return { kind: d.kind, name: d.name, revision: d.revision };
}

/** One unary call to another site's MirrorService, with a deadline. */
function call<Req, Res>(client: MirrorServiceClient, method: 'handOver' | 'stepDown', metadata: Metadata, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method].bind(client) as unknown as (
      r: Req,
      m: Metadata,
      o: { deadline: number },
      cb: (err: Error | null, res: Res) => void,
    ) => void;
    fn(request, metadata, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

