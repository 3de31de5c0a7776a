import type { ServerDuplexStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { PullHello, PullRequest, PullResponse } from '@laneway/proto';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator';
import { FailedPreconditionError, InvalidArgumentError, LanewayError } from '../errors';
import { grpcStatusOf, wireMessage } from '../errors/grpc-status';
import { changeToWire } from './pull-wire';
import type { ResourceSecrets } from '../secrets/resource-secrets';
import type { ClusterStore } from '../store';

/** How often a follower's progress is written to the store (it is also kept in memory). */
const RECORD_EVERY_MS = 1000;

/** One follower's Pull stream, on the source. */
class FollowerSession {
  acked: number;
  inflight: number | undefined;
  dirty = false;
  closed = false;
  greeted = false;
  lastSeen = new Date().toISOString();
  lastRecorded = 0;

  constructor(
    readonly cluster: string,
    readonly hello: PullHello,
    readonly call: ServerDuplexStream<PullRequest, PullResponse>,
    readonly log: Logger,
    readonly key: string,
  ) {
    this.acked = hello.appliedRevision;
  }
}

export interface FollowerView {
  followerId: string;
  cluster: string;
  appliedRevision: number;
  lastSeen: string;
  connected: boolean;
}

/**
 * The source's side of the mirror link: the same revision-following as the servers' sync streams (a
 * hello with the last revision applied, changes since it or a full snapshot, one push in flight, an
 * ack per push, nothing sent when nothing changed), for followers on other control planes. A change
 * is pushed as soon as the hub hears of it; a follower that is slow or gone holds only its own stream.
 */
export class FollowerSessions {
  private readonly sessions = new Map<string, Map<string, FollowerSession>>();
  private readonly log: Logger;
  private sequence = 0;

  constructor(
    private readonly store: ClusterStore,
    private readonly auth: Authenticator,
    private readonly secrets: ResourceSecrets,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'mirror-source' });
  }

  /** The hub tells of every change to a cluster (made here, or by another control plane on the same store). */
  changed(cluster: string): void {
    const byId = this.sessions.get(cluster);
    if (!byId) return;
    for (const session of byId.values()) void this.push(session);
  }

  /** Followers connected here, by cluster. */
  connected(cluster: string): FollowerView[] {
    return [...(this.sessions.get(cluster)?.values() ?? [])].map((s) => ({
      followerId: s.hello.followerId,
      cluster: s.hello.followerCluster,
      appliedRevision: s.acked,
      lastSeen: new Date().toISOString(),
      connected: true,
    }));
  }

  /** Ends every follower stream of the cluster (it stepped down: followers must find the new source). */
  endAll(cluster: string, message: string): void {
    for (const session of this.sessions.get(cluster)?.values() ?? []) this.end(session, status.FAILED_PRECONDITION, message);
  }

  shutdown(): void {
    for (const byId of this.sessions.values()) for (const s of byId.values()) this.end(s, status.UNAVAILABLE, 'the control plane is shutting down');
  }

  /** grpc-js handler for MirrorService.Pull. */
  readonly handleStream = (call: ServerDuplexStream<PullRequest, PullResponse>): void => {
    let session: FollowerSession | undefined;
    call.on('data', (request: PullRequest) => {
      if (request.hello && !session) {
        const hello = request.hello;
        void this.open(call, hello).then(
          (s) => {
            session = s;
          },
          (err: unknown) => this.refuse(call, err),
        );
      } else if (request.ack && session) {
        this.onAck(session, request.ack.revision);
      }
    });
    call.on('error', () => session && this.close(session));
    call.on('end', () => {
      if (session) this.close(session);
      call.end();
    });
    call.on('cancelled', () => session && this.close(session));
  };

  private async open(call: ServerDuplexStream<PullRequest, PullResponse>, hello: PullHello): Promise<FollowerSession> {
    // The token is checked before the hello's fields: a token that may not pull is refused as such.
    await this.auth.requireMirror(
      call.metadata,
      () => {
        if (!hello.cluster) throw new InvalidArgumentError('hello.cluster', 'the hello names no cluster: give the source cluster to follow');
        return hello.cluster;
      },
      'Pull',
    );
    if (!hello.followerId) throw new InvalidArgumentError('hello.follower_id', 'the hello names no follower: give the follower control plane id');
    const state = await this.store.getMirrorState(hello.cluster);
    if (state.role === 'follower') {
      throw new FailedPreconditionError(
        `cluster '${hello.cluster}' is a follower on this control plane (of ${state.link?.sourceCluster ?? '?'} at ${state.link?.sourceAddress ?? '?'}): follow its source instead`,
      );
    }
    if (hello.epoch > state.epoch) {
      throw new FailedPreconditionError(
        `the follower is at epoch ${hello.epoch}, above this site's ${state.epoch}: this site was replaced by a promotion and must not be followed`,
      );
    }
    // Keyed per stream: control planes of one follower site that share its store may each pull.
    const session = new FollowerSession(hello.cluster, hello, call, this.log.child({ cluster: hello.cluster, follower: hello.followerId, followerCluster: hello.followerCluster }), `${hello.followerId}#${++this.sequence}`);
    let byId = this.sessions.get(hello.cluster);
    if (!byId) this.sessions.set(hello.cluster, (byId = new Map()));
    byId.set(session.key, session);
    session.log.info({ applied: hello.appliedRevision, epoch: hello.epoch }, 'follower connected');
    void this.record(session, true);
    await this.push(session);
    return session;
  }

  private async push(session: FollowerSession): Promise<void> {
    if (session.closed) return;
    if (session.inflight !== undefined) {
      session.dirty = true;
      return;
    }
    session.dirty = false;
    session.inflight = -1;
    try {
      const changes = await this.store.mirrorChangesSince(session.cluster, session.acked);
      if (session.closed) return;
      // The first push always goes (an empty delta when nothing changed): it tells the follower it is
      // connected and caught up.
      if (session.greeted && !changes.full && changes.revision <= session.acked) {
        session.inflight = undefined;
        if (session.dirty) await this.push(session);
        return;
      }
      const response = changeToWire(changes, (r) => this.secrets.openRecord(session.cluster, r), Date.now());
      session.inflight = changes.revision;
      session.greeted = true;
      session.log.debug({ revision: changes.revision, full: changes.full, services: response.services.length, resources: response.resources.length }, 'pushing to follower');
      session.call.write(response);
    } catch (err) {
      session.inflight = undefined;
      const { code, details } = statusOf(err);
      this.end(session, code, details);
    }
  }

  private onAck(session: FollowerSession, revision: number): void {
    if (session.inflight === undefined || revision !== session.inflight) return;
    session.acked = revision;
    session.inflight = undefined;
    session.lastSeen = new Date().toISOString();
    void this.record(session, false);
    if (session.dirty) void this.push(session);
  }

  private async record(session: FollowerSession, force: boolean): Promise<void> {
    const nowMs = Date.now();
    if (!force && nowMs - session.lastRecorded < RECORD_EVERY_MS) {
      // Written at the next ack after the interval; the in-memory view is current meanwhile.
      return;
    }
    session.lastRecorded = nowMs;
    try {
      await this.store.recordFollower(session.cluster, session.hello.followerId, session.hello.followerCluster, session.acked);
    } catch (err) {
      session.log.warn({ err }, 'could not record the follower\'s progress');
    }
  }

  private refuse(call: ServerDuplexStream<PullRequest, PullResponse>, err: unknown): void {
    if (!(err instanceof LanewayError)) this.log.warn({ err }, 'mirror pull refused');
    const { code, details } = statusOf(err);
    call.emit('error', { code, details, message: details });
  }

  private end(session: FollowerSession, code: status, details: string): void {
    if (session.closed) return;
    this.close(session);
    const message = wireMessage(details);
    session.call.emit('error', { code, details: message, message });
  }

  private close(session: FollowerSession): void {
    if (session.closed) return;
    session.closed = true;
    const byId = this.sessions.get(session.cluster);
    if (byId?.get(session.key) === session) byId.delete(session.key);
    void this.record(session, true);
    session.log.info({ applied: session.acked }, 'follower disconnected');
  }
}

function statusOf(err: unknown): { code: status; details: string } {
  if (err instanceof LanewayError) return { code: grpcStatusOf(err), details: wireMessage(err.message) };
  return { code: status.INTERNAL, details: wireMessage(`mirror link failed: ${(err as Error)?.message ?? String(err)}`) };
}
