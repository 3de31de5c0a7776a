import type { ClientDuplexStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { MirrorServiceClient, PullRequest, PullResponse } from '@laneway/proto';
import type { Logger } from 'pino';
import type { ClusterStore, PulledChange } from '../store';
import { NotFoundError } from '../errors';
import { changeFromWire } from '../sync/pull-wire';
import { describeSourceError, sourceClient, type SourceTarget } from './source-client';

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

export interface FollowerLinkOptions {
  /** The follower cluster on this control plane. */
  cluster: string;
  sourceCluster: string;
  target: SourceTarget;
  /** This control plane's id, as the source lists its followers. */
  followerId: string;
  store: ClusterStore;
  /** Applies one pulled change to the store (sealing secrets with this site's key); resolves to whether anything changed. */
  apply(change: PulledChange): Promise<{ revision: number; changed: boolean }>;
  /** After a change is committed: push it to this site's servers. */
  applied(revision: number): void;
  logger: Logger;
}

/**
 * A follower's side of the mirror link: one Pull stream to the source, opened with the last source
 * revision applied; each pushed change is applied in one transaction and acked. On any failure the
 * follower keeps serving what it has, shows the error, and reconnects with backoff, resuming from its
 * last applied revision.
 */
export class FollowerLink {
  connected = false;
  lastError = '';
  lastErrorCode: status | undefined;
  /** The newest source revision heard of, and the source revision applied. */
  sourceRevision = 0;
  appliedSourceRevision = 0;
  /** When the follower was last known to be caught up (ms); lag is measured from it. */
  private caughtUpAt = Date.now();
  private stopped = false;
  private call: ClientDuplexStream<PullRequest, PullResponse> | undefined;
  private readonly client: MirrorServiceClient;
  private readonly metadata: ReturnType<typeof sourceClient>['metadata'];
  private readonly log: Logger;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readonly waiters = new Set<{ revision: number; resolve: () => void }>();
  private firstOutcome: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(private readonly opts: FollowerLinkOptions) {
    const c = sourceClient(opts.target);
    this.client = c.client;
    this.metadata = c.metadata;
    this.log = opts.logger.child({ component: 'mirror-follower', cluster: opts.cluster, source: opts.target.address, sourceCluster: opts.sourceCluster });
  }

  get address(): string {
    return this.opts.target.address;
  }

  get target(): SourceTarget {
    return this.opts.target;
  }

  get mirrorClient(): { client: MirrorServiceClient; metadata: ReturnType<typeof sourceClient>['metadata'] } {
    return { client: this.client, metadata: this.metadata };
  }

  /** How long the follower has been behind the source (0 while connected and caught up). */
  lagMs(): number {
    if (this.connected && this.appliedSourceRevision >= this.sourceRevision) return 0;
    return Math.max(0, Date.now() - this.caughtUpAt);
  }

  /** Starts pulling; resolves once the first push is applied, rejects with the first failure. */
  start(): Promise<void> {
    const first = new Promise<void>((resolve, reject) => (this.firstOutcome = { resolve, reject }));
    this.reconnect();
    return first;
  }

  /** Resolves once the source revision `revision` is applied, or rejects after `timeoutMs`. */
  waitFor(revision: number, timeoutMs: number): Promise<void> {
    if (this.appliedSourceRevision >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`the follower did not reach source revision ${revision} within ${timeoutMs} ms (it is at ${this.appliedSourceRevision}${this.lastError ? `; ${this.lastError}` : ''})`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.call?.cancel();
    this.call = undefined;
    this.connected = false;
    this.client.close();
    this.firstOutcome?.reject(new Error('the link was stopped'));
    this.firstOutcome = undefined;
  }

  /** Opens the stream; whatever goes wrong there is a link failure (retried), never a crash of the process. */
  private reconnect(): void {
    this.connect().catch((err: unknown) => this.failed(status.INTERNAL, `could not open the pull stream: ${(err as Error)?.message ?? String(err)}`));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let applied = 0;
    let epoch = 0;
    try {
      const state = await this.opts.store.getMirrorState(this.opts.cluster);
      if (state.role !== 'follower') {
        // Promoted, or the cluster was deleted and made again: nothing to follow any more.
        this.log.info({ role: state.role }, 'the cluster no longer follows: link stopped');
        this.stop();
        return;
      }
      applied = state.link?.appliedSourceRevision ?? 0;
      epoch = state.epoch;
    } catch (err) {
      if (err instanceof NotFoundError) {
        this.log.info('the cluster was deleted: link stopped');
        this.stop();
        return;
      }
      this.failed(status.INTERNAL, `could not read the follower's state: ${(err as Error).message}`);
      return;
    }
    // stop() may have come while the state was read (a promote stops the link): its client is closed
    // now, and a call on it would throw.
    if (this.stopped) return;
    this.appliedSourceRevision = applied;
    this.sourceRevision = Math.max(this.sourceRevision, applied);
    const call = this.client.pull(this.metadata());
    this.call = call;
    // Applied one after the other, in the order pushed.
    let chain = Promise.resolve();
    let ended = false;
    const end = (code: status, message: string) => {
      if (ended) return;
      ended = true;
      if (this.call === call) this.call = undefined;
      call.cancel();
      this.failed(code, message);
    };
    call.on('data', (response: PullResponse) => {
      chain = chain.then(async () => {
        if (ended) return;
        try {
          await this.onPush(call, response);
        } catch (err) {
          const e = err as { code?: number; message?: string };
          end(typeof e.code === 'number' ? e.code : status.INTERNAL, `could not apply source revision ${response.revision}: ${e.message ?? String(err)}`);
        }
      });
    });
    call.on('error', (err) => {
      if (this.stopped) return;
      const { code, message } = describeSourceError(this.opts.target.address, err);
      end(code, message);
    });
    call.on('end', () => end(status.UNAVAILABLE, `the source at ${this.opts.target.address} ended the stream`));
    call.write({ hello: { cluster: this.opts.sourceCluster, followerId: this.opts.followerId, followerCluster: this.opts.cluster, appliedRevision: applied, epoch } });
  }

  private async onPush(call: ClientDuplexStream<PullRequest, PullResponse>, response: PullResponse): Promise<void> {
    const started = Date.now();
    this.sourceRevision = Math.max(this.sourceRevision, response.revision);
    const change = changeFromWire(response);
    const result = await this.opts.apply(change);
    this.appliedSourceRevision = response.revision;
    if (!this.connected) this.log.info({ applied: response.revision, full: response.full }, 'mirror link up');
    this.connected = true;
    this.failures = 0;
    this.lastError = '';
    this.lastErrorCode = undefined;
    if (this.appliedSourceRevision >= this.sourceRevision) this.caughtUpAt = Date.now();
    if (result.changed) {
      this.log.info(
        { sourceRevision: response.revision, revision: result.revision, full: response.full, services: response.services.length, resources: response.resources.length, applyMs: Date.now() - started },
        'applied a change from the source',
      );
      this.opts.applied(result.revision);
    }
    call.write({ ack: { revision: response.revision } });
    for (const waiter of [...this.waiters]) {
      if (this.appliedSourceRevision >= waiter.revision) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    this.firstOutcome?.resolve();
    this.firstOutcome = undefined;
  }

  private failed(code: status, message: string): void {
    if (this.stopped) return;
    if (this.connected) this.caughtUpAt = Math.min(this.caughtUpAt, Date.now());
    this.connected = false;
    this.lastError = message;
    this.lastErrorCode = code;
    this.failures += 1;
    this.log.warn({ code: status[code] ?? code, failures: this.failures }, `mirror link down: ${message}`);
    if (this.firstOutcome) {
      const err = Object.assign(new Error(message), { code });
      this.firstOutcome.reject(err);
      this.firstOutcome = undefined;
    }
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.failures - 1, 5));
    this.retryTimer = setTimeout(() => this.reconnect(), delay);
    this.retryTimer.unref();
  }
}
