import type { ServerDuplexStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import {
  ApplyOutcome,
  Lane,
  type ConnectionTestReply,
  type ConnectionTestResult,
  type ServerApplyResult,
  type SyncRequest,
  SyncResponse,
} from '@laneway/proto';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator';
import { HOLDER_HEARTBEAT_MS, type ChangeSet, type ClusterStore, type Lane as StoreLane, type ServerRecord, type ServiceErrorRecord } from '../store';
import { refToWire, resourceToWire, serviceToWire } from './resource-wire';
import { AppliedWrites } from './applied-writes';
import { EncodedPush } from './sync-service';
import { AlreadyExistsError, LanewayError } from '../errors';
import { grpcStatusOf, wireMessage } from '../errors/grpc-status';
import { RequestChecks } from '../checks/request-checks';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { Keyring } from '../secrets/keyring';
import { ResourceSecrets } from '../secrets/resource-secrets';
import { SecretBox } from '../secrets/secret-box';

/** How often a deploy waiting for a server held by another control plane reads the store. */
const REMOTE_POLL_MS = 50;

interface Inflight {
  nonce: string;
  revision: number;
  drained: boolean;
}

/** One connected server's stream, and where its state stands. */
class Session {
  ackedRevision: number;
  /**
   * The applied revision the store shows. A Deploy that waits reports an ACK only once it is stored,
   * so that ListServers and GetDeploymentStatus right after it show it too.
   */
  recordedRevision: number;
  nackedRevision = -1;
  inflight: Inflight | undefined;
  /** Something changed while a push was in flight: push again after the ACK/NACK. */
  dirty = false;
  closed = false;
  /** The last rejection, once stored (see recordedRevision). */
  lastNack: { revision: number; errors: ServiceErrorRecord[] } | undefined;
  /** Operator intent, from the store. */
  drained = false;
  /** What the server confirmed; unknown after a (re)connect, so the first push always carries it. */
  ackedDrained: boolean | undefined;
  readonly listeners = new Set<() => void>();

  constructor(
    readonly cluster: string,
    readonly server: string,
    readonly call: ServerDuplexStream<SyncRequest, SyncResponse>,
    appliedRevision: number,
    readonly log: Logger,
    /** The server process's id ('' from servers that predate it). */
    readonly instanceId: string,
    readonly host: string,
    readonly pid: number,
    /** The server's channel listener, HOST:PORT; '' when it has none. */
    readonly httpAddress: string,
  ) {
    this.ackedRevision = appliedRevision;
    this.recordedRevision = appliedRevision;
  }

  notifyListeners(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export interface SyncHubOptions {
  store: ClusterStore;
  auth: Authenticator;
  logger: Logger;
  /** Bounds on the names a hello carries (the API's limits); default DEFAULT_LIMITS. */
  limits?: Readonly<Limits>;
  /**
   * Seals and opens the secret fields of resources: the catalogs seal with it before storing, the hub
   * opens what it pushes. Default: no key, so values in the clear pass and nothing can be sealed.
   */
  secrets?: ResourceSecrets;
  /** Told of every NACK (a server refused a push): the metrics' laneway_sync_nacks_total. */
  onNack?: (cluster: string, server: string) => void;
}

/**
 * The control plane's side of the sync streams (xDS semantics): one session per connected server,
 * one push in flight per session, deltas computed from the server's last ACKed revision, nothing sent
 * when nothing changed, stale nonces ignored.
 */
export class SyncHub {
  private readonly sessions = new Map<string, Map<string, Session>>();
  /**
   * Per cluster and server name, the instances that another instance replaced while they were still
   * connected: two replicas given the same name. Such an instance is refused while the name is held,
   * so the two do not take the name from each other in turn.
   */
  private readonly superseded = new Map<string, string[]>();
  private nonceSequence = 0;
  /** TestConnection requests sent on streams, by id, waiting for each server's reply. */
  private readonly changeListeners: ((cluster: string) => void)[] = [];
  private readonly testWaiters = new Map<string, (reply: ConnectionTestReply) => void>();
  // Servers of a cluster usually stand at the same revision, so one read of "changes since R" serves
  // them all; dropped on every change to the cluster and after a second.
  private readonly changeSets = new Map<string, { at: number; changes: Promise<ChangeSet> }>();
  /** Each change set's push, encoded once for every server it goes to (per drain flag; see EncodedPush). */
  private readonly encodedPushes = new WeakMap<ChangeSet, Map<boolean, EncodedPush>>();
  /** ACKs, stored in batches (a fleet ACKs a push within milliseconds). */
  private readonly appliedWrites: AppliedWrites;
  private readonly store: ClusterStore;
  private readonly auth: Authenticator;
  private readonly log: Logger;
  private readonly checks: RequestChecks;
  /** Resource secrets: ResourceCatalog seals with these, pushes open them (servers get them in memory only). */
  readonly secrets: ResourceSecrets;

  private readonly heartbeat: NodeJS.Timeout | undefined;

  private readonly onNackSeen: SyncHubOptions['onNack'];

  constructor(options: SyncHubOptions) {
    this.store = options.store;
    this.appliedWrites = new AppliedWrites(options.store);
    this.auth = options.auth;
    this.log = options.logger.child({ component: 'sync-hub' });
    this.checks = new RequestChecks(options.limits ?? DEFAULT_LIMITS);
    this.secrets = options.secrets ?? new ResourceSecrets(new SecretBox(new Keyring()));
    this.onNackSeen = options.onNack;
    // Other control planes on the same database see the servers held here as connected while this runs.
    if (this.store.shared) {
      this.heartbeat = setInterval(() => {
        for (const [cluster, byName] of this.sessions) {
          this.store.heartbeatServers(cluster, [...byName.keys()]).catch((err: unknown) => this.log.warn({ err, cluster }, 'server heartbeat failed'));
        }
      }, HOLDER_HEARTBEAT_MS);
      this.heartbeat.unref();
    }
  }

  /** grpc-js handler for SyncService.Sync. */
  readonly handleStream = (call: ServerDuplexStream<SyncRequest, SyncResponse>): void => {
    let session: Session | undefined;
    call.on('data', (request: SyncRequest) => {
      if (request.hello) {
        if (session) return this.endWithError(call, status.INVALID_ARGUMENT, 'hello was already sent on this stream');
        const hello = request.hello;
        try {
          // Names are stored and shown by ListServers: the same rules as the API's (length, no control characters).
          this.checks.name('hello.cluster', hello.cluster, 'set LANEWAY_CLUSTER on the server');
          this.checks.name('hello.server', hello.server, 'set LANEWAY_SERVER_NAME on the server');
          this.checks.optionalName('hello.host', hello.host);
          this.checks.optionalName('hello.instance_id', hello.instanceId);
          this.checks.optionalName('hello.http_address', hello.httpAddress);
        } catch (err) {
          const known = err instanceof LanewayError;
          return this.endWithError(call, known ? grpcStatusOf(err) : status.INVALID_ARGUMENT, known ? err.message : 'hello is invalid');
        }
        const opened = new Session(
          hello.cluster,
          hello.server,
          call,
          hello.appliedRevision,
          this.log.child({ cluster: hello.cluster, server: hello.server }),
          hello.instanceId,
          hello.host,
          hello.pid,
          hello.httpAddress,
        );
        session = opened;
        this.open(opened, hello.lanes.map(laneName)).catch((err: unknown) => this.fail(opened, err));
      } else if (!session) {
        this.endWithError(call, status.FAILED_PRECONDITION, 'the first message on the sync stream must be hello');
      } else if (request.ack) {
        this.onAck(session, request.ack.nonce, request.ack.revision).catch((err: unknown) => this.fail(session!, err));
      } else if (request.connectionTestReply) {
        const reply = request.connectionTestReply;
        this.testWaiters.get(reply.id)?.(reply);
      } else if (request.nack) {
        this.onNack(session, request.nack.nonce, request.nack.revision, request.nack.errors).catch((err: unknown) =>
          this.fail(session!, err),
        );
      }
    });
    const close = (): void => {
      if (session) this.close(session);
    };
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('cancelled', close);
    call.on('close', close);
  };

  /**
   * Another control plane changed `cluster` (or, with `server`, that server's drain state) in the
   * shared store: push it to the servers connected here.
   */
  async remoteChange(cluster: string, server?: string): Promise<void> {
    if (!server) return this.notify(cluster);
    const session = this.sessions.get(cluster)?.get(server);
    if (!session) return;
    session.drained = await this.store.isServerDrained(cluster, server);
    await this.push(session);
  }

  /** Changes may have been missed (the change feed was down): check every connected server again. */
  async resyncAll(): Promise<void> {
    for (const [cluster, byName] of this.sessions) {
      // A cluster deleted meanwhile: notify() ends its streams with NOT_FOUND.
      const rows = await this.store.listServers(cluster).catch(() => []);
      for (const row of rows) {
        const session = byName.get(row.name);
        if (session) session.drained = row.drained;
      }
      this.notify(cluster);
    }
  }

  /**
   * Called after every change to a cluster: pushes it to each connected server. `delta`, when the
   * caller has it, is the change set from `since` to the new revision, exactly as the store would
   * read it; servers at `since` get it without a read.
   */
  notify(cluster: string, delta?: { since: number; changes: ChangeSet }): void {
    for (const key of this.changeSets.keys()) if (key.startsWith(changeSetKey(cluster, ''))) this.changeSets.delete(key);
    if (delta) this.changeSets.set(changeSetKey(cluster, delta.since), { at: Date.now(), changes: Promise.resolve(delta.changes) });
    for (const session of this.sessions.get(cluster)?.values() ?? []) {
      this.push(session).catch((err: unknown) => this.fail(session, err));
    }
    for (const listener of this.changeListeners) listener(cluster);
  }

  /**
   * Also tells `listener` of every change to a cluster's state (made here, or by another control
   * plane sharing the store): the mirror link's source side pushes to followers from it.
   */
  onChange(listener: (cluster: string) => void): void {
    this.changeListeners.push(listener);
  }

  /**
   * Drains or resumes a server: stored, then pushed on its stream (now, or when it reconnects).
   * Resolves once a connected server has confirmed it (true), or when it did not within `timeoutMs`
   * or is not connected (false): the state still applies as soon as the server hears it.
   */
  async setDrained(cluster: string, server: string, drained: boolean, timeoutMs = 5000): Promise<boolean> {
    await this.store.setServerDrained(cluster, server, drained);
    const session = this.sessions.get(cluster)?.get(server);
    if (!session) return false;
    session.drained = drained;
    await this.push(session);
    return new Promise((resolve) => {
      const check = (): void => {
        if (session.ackedDrained === drained || session.closed || session.drained !== drained) {
          clearTimeout(timer);
          session.listeners.delete(check);
          resolve(session.ackedDrained === drained);
        }
      };
      const timer = setTimeout(() => {
        session.listeners.delete(check);
        resolve(false);
      }, timeoutMs);
      session.listeners.add(check);
      check();
    });
  }

  /** Whether the server has confirmed the drained state it was last asked for. */
  drainConfirmed(cluster: string, server: string): boolean | undefined {
    const session = this.sessions.get(cluster)?.get(server);
    return session ? session.ackedDrained === session.drained : undefined;
  }

  /**
   * TestConnection: asks every server connected here to open connection `name` and answers per
   * server (its error, or that it did not answer within `timeoutMs`). Servers of the cluster held
   * by another control plane on the same database are not reached.
   */
  async testConnection(cluster: string, name: string, timeoutMs: number): Promise<ConnectionTestResult[]> {
    const sessions = [...(this.sessions.get(cluster)?.values() ?? [])].sort((a, b) => (a.server < b.server ? -1 : 1));
    return Promise.all(
      sessions.map(
        (session) =>
          new Promise<ConnectionTestResult>((resolve) => {
            const id = `test-${++this.nonceSequence}-${randomUUID()}`;
            const started = Date.now();
            const done = (result: ConnectionTestResult): void => {
              clearTimeout(timer);
              this.testWaiters.delete(id);
              resolve(result);
            };
            // A little longer than the server's own bound, which it reports as its error.
            const timer = setTimeout(
              () => done({ server: session.server, ok: false, error: `server '${session.server}' did not answer within ${timeoutMs} ms`, latencyMs: Date.now() - started }),
              timeoutMs + 1000,
            );
            this.testWaiters.set(id, (reply) => done({ server: session.server, ok: reply.ok, error: reply.error, latencyMs: reply.latencyMs }));
            session.call.write({ ...EMPTY_PUSH, drained: session.drained, connectionTest: { id, name, timeoutMs } });
          }),
      ),
    );
  }

  /** Names of the servers with a live stream to this control plane. */
  connectedServers(cluster: string): Set<string> {
    return new Set(this.sessions.get(cluster)?.keys() ?? []);
  }

  /**
   * Waits until every server connected now has ACKed `revision` (or later), NACKed it, gone away, or
   * `timeoutMs` passed; returns one result per server.
   */
  async waitForServers(cluster: string, revision: number, timeoutMs: number): Promise<ServerApplyResult[]> {
    const sessions = [...(this.sessions.get(cluster)?.values() ?? [])];
    const local = new Set(sessions.map((s) => s.server));
    // Servers held by other control planes on the same database: followed through the store.
    const rows = this.store.shared ? await this.store.listServers(cluster) : [];
    const remote = rows.filter((row) => row.connectedElsewhere && !local.has(row.name)).map((row) => row.name);
    const results = await Promise.all([
      ...sessions.map((session) => this.waitForSession(session, revision, timeoutMs)),
      remote.length ? this.waitForRemote(cluster, remote, revision, timeoutMs, rows) : [],
    ]);
    return results.flat().sort((a, b) => a.server.localeCompare(b.server));
  }

  /**
   * Polls the store (one read per round for all of them) until each server held elsewhere ACKed or
   * NACKed `revision`, went away, or time ran out.
   */
  private async waitForRemote(
    cluster: string,
    servers: string[],
    revision: number,
    timeoutMs: number,
    firstRead: ServerRecord[],
  ): Promise<ServerApplyResult[]> {
    const deadline = Date.now() + timeoutMs;
    const done = new Map<string, ServerApplyResult>();
    for (let read: ServerRecord[] | undefined = firstRead; ; read = undefined) {
      const rows = new Map((read ?? (await this.store.listServers(cluster))).map((r) => [r.name, r]));
      const expired = Date.now() >= deadline;
      for (const server of servers) {
        if (done.has(server)) continue;
        const row: ServerRecord | undefined = rows.get(server);
        const result = (outcome: ApplyOutcome, errors: ServerApplyResult['errors'] = []): void =>
          void done.set(server, { server, outcome, appliedRevision: row?.appliedRevision ?? 0, errors, httpAddress: row?.httpAddress ?? '' });
        if (row && row.appliedRevision >= revision) result(ApplyOutcome.APPLY_OUTCOME_ACKED);
        else if (row && row.lastNackRevision >= revision) result(ApplyOutcome.APPLY_OUTCOME_NACKED, row.lastNack);
        else if (!row?.connectedElsewhere && !this.sessions.get(cluster)?.has(server)) {
          result(ApplyOutcome.APPLY_OUTCOME_TIMED_OUT, [disconnectedBefore(server, revision)]);
        } else if (expired) result(ApplyOutcome.APPLY_OUTCOME_TIMED_OUT, [notAppliedWithin(server, revision, timeoutMs)]);
      }
      if (done.size === servers.length) return servers.map((server) => done.get(server)!);
      await new Promise((r) => setTimeout(r, REMOTE_POLL_MS));
    }
  }

  /** Closes every stream (control-plane shutdown); servers reconnect to whoever serves next. */
  shutdown(): void {
    clearInterval(this.heartbeat);
    for (const byName of this.sessions.values()) {
      for (const session of byName.values()) {
        this.close(session);
        session.call.end();
      }
    }
  }

  private waitForSession(session: Session, revision: number, timeoutMs: number): Promise<ServerApplyResult> {
    return new Promise((resolve) => {
      const result = (outcome: ApplyOutcome, errors: ServerApplyResult['errors'] = []): ServerApplyResult => ({
        server: session.server,
        outcome,
        appliedRevision: session.recordedRevision,
        errors,
        httpAddress: session.httpAddress,
      });
      const check = (): boolean => {
        if (session.recordedRevision >= revision) return finish(result(ApplyOutcome.APPLY_OUTCOME_ACKED));
        if (session.lastNack && session.lastNack.revision >= revision) {
          return finish(result(ApplyOutcome.APPLY_OUTCOME_NACKED, session.lastNack.errors));
        }
        if (session.closed) return finish(result(ApplyOutcome.APPLY_OUTCOME_TIMED_OUT, [disconnectedBefore(session.server, revision)]));
        return false;
      };
      const timer = setTimeout(() => {
        finish(result(ApplyOutcome.APPLY_OUTCOME_TIMED_OUT, [notAppliedWithin(session.server, revision, timeoutMs)]));
      }, timeoutMs);
      const listener = (): void => void check();
      const finish = (value: ServerApplyResult): true => {
        clearTimeout(timer);
        session.listeners.delete(listener);
        resolve(value);
        return true;
      };
      if (!check()) session.listeners.add(listener);
    });
  }

  private async open(session: Session, lanes: StoreLane[]): Promise<void> {
    await this.auth.requireCluster(session.call.metadata, session.cluster);
    // Checked before the hello is stored (a refused replica must not overwrite the holder's host and
    // pid) and again below, after the awaits, in case the holder changed meanwhile.
    this.refuseSupersededInstance(session);
    // Throws NotFoundError for an unknown cluster, which ends the stream with NOT_FOUND.
    await this.store.recordServerHello(session.cluster, {
      name: session.server,
      host: session.host,
      pid: session.pid,
      lanes,
      appliedRevision: session.ackedRevision,
      httpAddress: session.httpAddress,
    });
    // A server ahead of the cluster followed another database (or this one was restored): nothing it
    // holds can be trusted as a base for deltas, so it starts over from a full snapshot.
    const { revision } = await this.store.getCluster(session.cluster);
    if (session.ackedRevision > revision) {
      session.log.warn({ claimed: session.ackedRevision, revision }, 'server claims a revision ahead of the cluster; sending a full snapshot');
      session.ackedRevision = 0;
      session.recordedRevision = 0;
    }
    session.drained = await this.store.isServerDrained(session.cluster, session.server);
    if (session.closed) return;
    let byName = this.sessions.get(session.cluster);
    if (!byName) this.sessions.set(session.cluster, (byName = new Map()));
    this.refuseSupersededInstance(session);
    const previous = byName.get(session.server);
    if (previous) {
      if (previous.instanceId && session.instanceId && previous.instanceId !== session.instanceId) {
        // Another process took the name. The newest wins (a restarted server must not wait for its
        // dead predecessor's stream to time out); the older one is told why and refused from now on.
        this.supersede(previous, session);
      } else {
        // The same process reconnected (its old TCP connection is not yet known dead).
        previous.log.warn({}, 'replaced by a newer stream from the same server');
        this.close(previous);
        previous.call.end();
      }
    }
    byName.set(session.server, session);
    session.log.info({ appliedRevision: session.ackedRevision }, 'server connected');
    await this.push(session);
  }

  /** Refuses an instance that another replica of the same name replaced, while that one holds the name. */
  private refuseSupersededInstance(session: Session): void {
    if (!session.instanceId) return;
    const holder = this.sessions.get(session.cluster)?.get(session.server);
    const key = `${session.cluster}\u0000${session.server}`;
    if (!holder || holder.closed || holder.instanceId === session.instanceId) return;
    if (!this.superseded.get(key)?.includes(session.instanceId)) return;
    throw new AlreadyExistsError(
      'server',
      session.server,
      `server name '${session.server}' in cluster '${session.cluster}' is held by another replica ` +
        `(host ${holder.host}, pid ${holder.pid}) that connected after this one: give each replica its own ` +
        `LANEWAY_SERVER_NAME; this one takes no jobs until the name is free`,
    );
  }

  private supersede(previous: Session, next: Session): void {
    const key = `${previous.cluster}\u0000${previous.server}`;
    const list = this.superseded.get(key) ?? [];
    // A handful is plenty: it only has to remember the replicas fighting over one name right now.
    this.superseded.set(key, [...list.filter((id) => id !== previous.instanceId), previous.instanceId].slice(-16));
    const message =
      `server name '${previous.server}' in cluster '${previous.cluster}' was taken by another replica ` +
      `(host ${next.host}, pid ${next.pid}): give each replica its own LANEWAY_SERVER_NAME; this one takes no jobs until the name is free`;
    previous.log.error({ replacedBy: { host: next.host, pid: next.pid }, host: previous.host, pid: previous.pid }, 'two replicas use one server name');
    this.close(previous);
    this.endWithError(previous.call, status.ALREADY_EXISTS, message);
  }

  private async push(session: Session): Promise<void> {
    if (session.closed) return;
    if (session.inflight) {
      session.dirty = true;
      return;
    }
    // Reserve the slot before the async read so that concurrent notifies do not double-send.
    const nonce = `${++this.nonceSequence}`;
    const drained = session.drained;
    session.inflight = { nonce, revision: -1, drained };
    session.dirty = false;
    let changes: ChangeSet;
    try {
      changes = await this.changesSince(session.cluster, session.ackedRevision);
    } catch (err) {
      session.inflight = undefined;
      throw err;
    }
    const upToDate = changes.revision === session.ackedRevision && session.ackedRevision > 0;
    const alreadyRejected = changes.revision <= session.nackedRevision;
    const sendServices = !upToDate && !alreadyRejected;
    const sendDrain = session.ackedDrained !== drained;
    if (session.closed || (!sendServices && !sendDrain)) {
      session.inflight = undefined;
      if (session.dirty) await this.push(session);
      return;
    }
    // Only the drain flag changed: an empty delta at the revision the server already has.
    const revision = sendServices ? changes.revision : session.ackedRevision;
    session.log.debug(
      { revision: changes.revision, full: changes.full, services: sendServices ? changes.services.length : 0, removed: changes.removed.length, resources: changes.resources.length },
      'pushing',
    );
    if (!sendServices) {
      session.inflight = { nonce, revision, drained };
      return void session.call.write({ ...EMPTY_PUSH, revision, nonce, drained });
    }
    const push = this.encodedPush(session.cluster, changes, drained);
    session.inflight = { nonce: push.nonce, revision, drained };
    writeEncoded(session.call, push);
  }

  /**
   * The push of a change set with a drain flag, encoded on its first use and then written as it is
   * to every server it goes to. Its nonce is unique to it; a stream never gets the same change set
   * twice (an ACK or a NACK moves the server past it; a new stream is a new session).
   */
  private encodedPush(cluster: string, changes: ChangeSet, drained: boolean): EncodedPush {
    let byDrained = this.encodedPushes.get(changes);
    if (!byDrained) this.encodedPushes.set(changes, (byDrained = new Map()));
    let push = byDrained.get(drained);
    if (!push) {
      const nonce = `${++this.nonceSequence}`;
      const bytes = SyncResponse.encode({
        revision: changes.revision,
        nonce,
        full: changes.full,
        services: changes.services.map(serviceToWire),
        removed: changes.removed,
        drained,
        resources: changes.resources.map((r) => resourceToWire(this.secrets.openRecord(cluster, r))),
        removedResources: changes.removedResources.map(refToWire),
        connectionTest: undefined,
      }).finish();
      push = new EncodedPush(nonce, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      byDrained.set(drained, push);
    }
    return push;
  }

  private changesSince(cluster: string, since: number): Promise<ChangeSet> {
    const key = changeSetKey(cluster, since);
    const now = Date.now();
    const cached = this.changeSets.get(key);
    if (cached && now - cached.at < 1000) return cached.changes;
    for (const [k, v] of this.changeSets) if (now - v.at >= 1000) this.changeSets.delete(k);
    const changes = this.store.changesSince(cluster, since);
    this.changeSets.set(key, { at: now, changes });
    changes.catch(() => this.changeSets.delete(key));
    return changes;
  }

  private async onAck(session: Session, nonce: string, revision: number): Promise<void> {
    if (!session.inflight || session.inflight.nonce !== nonce) {
      session.log.debug({ nonce }, 'ignoring ACK with a stale nonce');
      return;
    }
    session.ackedDrained = session.inflight.drained;
    session.inflight = undefined;
    session.ackedRevision = revision;
    await this.appliedWrites.record(session.cluster, session.server, revision);
    session.recordedRevision = revision;
    session.lastNack = undefined;
    session.log.info({ revision }, 'server applied revision');
    session.notifyListeners();
    if (session.dirty) await this.push(session);
  }

  private async onNack(
    session: Session,
    nonce: string,
    revision: number,
    errors: ServiceErrorRecord[],
  ): Promise<void> {
    if (!session.inflight || session.inflight.nonce !== nonce) {
      session.log.debug({ nonce }, 'ignoring NACK with a stale nonce');
      return;
    }
    // The drain flag applies even when the services in the same push were rejected.
    session.ackedDrained = session.inflight.drained;
    session.inflight = undefined;
    session.nackedRevision = revision;
    this.onNackSeen?.(session.cluster, session.server);
    await this.store.recordServerApplied(session.cluster, session.server, revision, errors);
    session.lastNack = { revision, errors };
    session.log.warn({ revision, errors }, 'server rejected revision; it keeps its last good state');
    session.notifyListeners();
    if (session.dirty) await this.push(session);
  }

  private close(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    const byName = this.sessions.get(session.cluster);
    if (byName?.get(session.server) === session) {
      byName.delete(session.server);
      session.log.info({}, 'server disconnected');
      this.store.releaseServer(session.cluster, session.server).catch(() => undefined);
    }
    session.notifyListeners();
  }

  private fail(session: Session, err: unknown): void {
    if (err instanceof LanewayError) {
      session.log.warn({ code: err.code, reason: err.message }, 'sync stream refused');
      this.endWithError(session.call, grpcStatusOf(err), err.message);
    } else {
      session.log.error({ err }, 'sync stream failed');
      this.endWithError(session.call, status.INTERNAL, 'the control plane failed to process the sync stream; reconnect');
    }
    this.close(session);
  }

  private endWithError(call: ServerDuplexStream<SyncRequest, SyncResponse>, code: status, details: string): void {
    // A status message over 64 KiB never arrives and wedges the client's connection (see wireMessage).
    const message = wireMessage(details);
    call.emit('error', { code, details: message, message });
  }
}

/** A SyncResponse with nothing in it, to spread the fields of a push over. */
const EMPTY_PUSH: SyncResponse = {
  revision: 0,
  nonce: '',
  full: false,
  services: [],
  removed: [],
  drained: false,
  resources: [],
  removedResources: [],
  connectionTest: undefined,
};

/**
 * Writes bytes already encoded on a stream served with SyncServiceDefinition (its serializer passes
 * an EncodedPush through as it is).
 */
function writeEncoded(call: ServerDuplexStream<SyncRequest, SyncResponse>, push: EncodedPush): void {
  call.write(push as unknown as SyncResponse);
}

/** The error of a wait that ended because the server's stream went away. */
function disconnectedBefore(server: string, revision: number): ServerApplyResult['errors'][number] {
  return { service: '', kind: '', message: `server '${server}' disconnected before applying revision ${revision}` };
}

/** The error of a wait that ran out of time. */
function notAppliedWithin(server: string, revision: number, timeoutMs: number): ServerApplyResult['errors'][number] {
  return { service: '', kind: '', message: `server '${server}' did not apply revision ${revision} within ${timeoutMs} ms` };
}

function laneName(lane: Lane): StoreLane {
  return lane === Lane.LANE_CPU ? 'cpu' : 'network';
}

/** Key of a cached change set: the cluster and the revision it starts from ('' for the cluster's prefix). */
function changeSetKey(cluster: string, since: number | ''): string {
  return `${cluster}\u0000${since}`;
}
