import { connectivityState, credentials, Metadata, status, type ChannelCredentials, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { Lane, SyncServiceClient, type ConnectionTest, type SyncRequest, type SyncResponse } from '@laneway/proto';
import type { Logger } from 'pino';
import type { Update } from '../registry/service-registry';
import { ignoreIpServernameWarning, looksLikeTlsMismatch, type ControlPlaneTls } from './control-plane-tls';
import { resourceFromWire } from './resource-wire';

export interface SyncAgentOptions {
  /**
   * The control planes' HOST:PORTs (sharing one store), tried in order: a lost stream or a failed
   * connect moves the next attempt to the next address, round robin.
   */
  addresses: readonly string[];
  cluster: string;
  server: string;
  host: string;
  pid: number;
  joinToken: string | undefined;
  /** The channel listener's HOST:PORT, sent in every hello; '' when the server has none. */
  httpAddress?: () => string;
  /**
   * The control plane refused this server before it ever synced (a wrong join token, another
   * cluster's token, an unknown cluster): retrying cannot help, so the server should stop and say why.
   * Once synced, the same refusals (a rotated token) are logged and retried: the server keeps serving.
   */
  onRefused?: (message: string) => void;
  /** LANEWAY_TLS_CA read: the stream uses TLS and verifies the control plane against it; absent, plaintext. */
  tls?: ControlPlaneTls | undefined;
  /** The revision to announce on (re)connect: the last one applied. */
  appliedRevision: () => number;
  /**
   * Another replica uses this server's name and the control plane refused this one: stop taking jobs
   * (this replica no longer hears deploys). The next push, once the name is free, sets drain again.
   */
  onNameConflict: () => Promise<void>;
  /**
   * Applies a push atomically; returns per-resource errors (non-empty = NACK, last good state kept):
   * `service` names the service, or with `kind` ('channel', ...) another resource.
   */
  apply: (update: Update) => Promise<ApplyError[]>;
  /** TestConnection: opens one of the server's connections; without it, tests are answered as unsupported. */
  testConnection?: (name: string, timeoutMs: number) => Promise<{ ok: boolean; error?: string; latencyMs: number }>;
  logger: Logger;
}

/** What a server could not apply: a service (no `kind`), or another resource of the push. */
export interface ApplyError {
  service: string;
  message: string;
  kind?: string;
}

/** Answers to a hello that no retry can change. */
const REFUSALS: ReadonlySet<number> = new Set([status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.NOT_FOUND]);

/** What a refused server says before it exits, naming what to change. */
function refusalMessage(err: ServiceError, cluster: string, address: string): string {
  const fix =
    err.code === status.NOT_FOUND
      ? `check LANEWAY_CLUSTER (create the cluster with \`npx laneway cluster create ${cluster}\`)`
      : `check LANEWAY_JOIN_TOKEN: print cluster '${cluster}'s token with \`npx laneway cluster token ${cluster}\``;
  return `the control plane at ${address} refused this server (${status[err.code]}: ${err.details}): ${fix}`;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;
/**
 * The channel's own reconnect backoff, kept short. While it waits, calls fail at once (UNAVAILABLE)
 * without trying: with the same 5 s as ours, a control plane back after a restart was reached only
 * when both waits had run out, up to 10 s later (bench fleet: 1,000 servers took 6.6 s after it
 * listened). Attempts that find it down are refused connects, cheap even for a fleet.
 */
const CHANNEL_MAX_BACKOFF_MS = 1000;
/** A stream that stayed connected this long before it was lost counts as a success: the backoff starts over. */
const HEALTHY_STREAM_MS = MAX_BACKOFF_MS;

/**
 * Holds the server's sync stream to a control plane. Reconnects with jittered exponential backoff
 * and announces its applied revision, so catching up after any outage, on the same control plane or
 * on another of the list, is the same as starting. While disconnected the server keeps serving what
 * it has.
 */
export class SyncAgent {
  private client: SyncServiceClient | undefined;
  private clientAddress = '';
  private readonly channelCredentials: ChannelCredentials;
  /** Index in `options.addresses` of the control plane the current (or next) stream goes to. */
  private addressIndex = 0;
  /** Failed attempts since the last success; the backoff grows when they cover the whole list. */
  private failuresInRound = 0;
  private stream: ClientDuplexStream<SyncRequest, SyncResponse> | undefined;
  private backoffMs = MIN_BACKOFF_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The control plane accepted this server at least once (it sent a push). */
  private everSynced = false;
  // Pushes are applied one at a time, in order.
  private applying: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private firstApply: { promise: Promise<void>; resolve: () => void };
  /** New for every process start: how the control plane tells a restart from a second replica of this name. */
  readonly instanceId = randomUUID();

  constructor(private readonly options: SyncAgentOptions) {
    if (options.addresses.length === 0) throw new Error('SyncAgent needs at least one control plane address');
    this.log = options.logger.child({ component: 'sync-agent' });
    if (options.tls) ignoreIpServernameWarning();
    this.channelCredentials = options.tls ? credentials.createSsl(options.tls.ca) : credentials.createInsecure();
    let resolve!: () => void;
    this.firstApply = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    this.firstApply.resolve = resolve;
  }

  /** Resolves once the first push has been applied (the server then has its services). */
  get synced(): Promise<void> {
    return this.firstApply.promise;
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
    this.client?.close();
  }

  /** The client for the address of this attempt; the previous address's connection is closed when it changes. */
  private clientFor(address: string): SyncServiceClient {
    if (this.client && this.clientAddress === address) return this.client;
    this.client?.close();
    this.clientAddress = address;
    this.client = new SyncServiceClient(address, this.channelCredentials, {
      'grpc.keepalive_time_ms': 5000,
      'grpc.keepalive_timeout_ms': 5000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      // HTTP/2 flow control: a 10,000-service push is about 6 MB, which the default 64 KB window lets
      // through one window update at a time. Measured from the control plane's 'pushing' to this
      // server's receipt, one server, five 10k pushes in each of four alternated runs: medians 186 and
      // 202 ms with the default, 126 and 101 ms with 16 MB (no change seen with 3 servers on 2 cores).
      'grpc-node.flow_control_window': 16 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': MIN_BACKOFF_MS,
      'grpc.max_reconnect_backoff_ms': CHANNEL_MAX_BACKOFF_MS,
    });
    return this.client;
  }

  private connect(): void {
    if (this.stopped) return;
    const addresses = this.options.addresses;
    const address = addresses[this.addressIndex % addresses.length]!;
    const client = this.clientFor(address);
    const metadata = new Metadata();
    if (this.options.joinToken) metadata.set('authorization', `Bearer ${this.options.joinToken}`);
    const stream = client.sync(metadata);
    this.stream = stream;
    let ended = false;
    // When the connection to this control plane came up (undefined: not yet, or never).
    let openedAt: number | undefined;
    this.whenReady(client, () => ended || this.stopped, () => {
      openedAt = performance.now();
      this.log.info({ address, appliedRevision: this.options.appliedRevision() }, 'sync stream open');
    });
    const onEnd = (reason: string, err?: ServiceError): void => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) this.stream = undefined;
      if (this.stopped) return;
      // Only a control plane that answered sends these (a connection failure is UNAVAILABLE), and
      // every control plane of the list reads the same store: another one would refuse it too.
      if (!this.everSynced && this.options.onRefused && err && REFUSALS.has(err.code)) {
        this.stopped = true;
        this.options.onRefused(refusalMessage(err, this.options.cluster, address));
        return;
      }
      if (openedAt !== undefined && performance.now() - openedAt >= HEALTHY_STREAM_MS) {
        // A stream that worked for a while and was then lost (its control plane died): start over.
        this.backoffMs = MIN_BACKOFF_MS;
        this.failuresInRound = 0;
      }
      if (err?.code === status.ALREADY_EXISTS) {
        // Keep trying (slowly): the other replica may go away. Meanwhile take no jobs.
        this.backoffMs = MAX_BACKOFF_MS;
        this.applying = this.applying.then(() => this.options.onNameConflict()).catch((e: unknown) => {
          this.log.error({ err: e }, 'could not stop taking jobs after a server-name conflict');
        });
      }
      const delay = this.backoffMs * (0.5 + Math.random() * 0.5);
      // The next attempt goes to the next control plane; waiting longer only once all of them failed.
      this.addressIndex = (this.addressIndex + 1) % addresses.length;
      if (++this.failuresInRound >= addresses.length) {
        this.failuresInRound = 0;
        this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
      }
      const next = addresses[this.addressIndex]!;
      const level =
        err?.code === status.ALREADY_EXISTS ||
        err?.code === status.NOT_FOUND ||
        err?.code === status.INVALID_ARGUMENT ||
        err?.code === status.UNAUTHENTICATED ||
        err?.code === status.PERMISSION_DENIED
          ? 'error'
          : 'warn';
      if (err?.code === status.UNAVAILABLE && looksLikeTlsMismatch(err.details, this.options.tls !== undefined)) {
        // Most often a CA that did not sign the control plane's certificate, or TLS on one side only.
        const { tls } = this.options;
        this.log.error(
          { address, next, caFile: tls?.caFile, details: err.details, retryInMs: Math.round(delay) },
          tls
            ? `TLS connection to the control plane at ${address} failed: does LANEWAY_TLS_CA=${tls.caFile} hold the CA that signed its certificate, for this address?`
            : `connection to the control plane at ${address} failed: if it serves TLS, set LANEWAY_TLS_CA to its CA file`,
        );
      } else {
        this.log[level]({ address, next, reason, code: err?.code, details: err?.details, retryInMs: Math.round(delay) }, 'sync stream lost; reconnecting');
      }
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
    stream.on('data', (response: SyncResponse) => {
      this.backoffMs = MIN_BACKOFF_MS;
      this.failuresInRound = 0;
      this.everSynced = true;
      const test = response.connectionTest;
      // Not a push: answered on its own, beside any push being applied.
      if (test) return void this.answerTest(stream, test);
      this.applying = this.applying.then(() => this.onPush(stream, response));
    });
    stream.on('error', (err: ServiceError) => onEnd('error', err));
    stream.on('end', () => onEnd('end'));
    stream.on('close', () => onEnd('close'));
    const { cluster, server, host, pid } = this.options;
    stream.write({
      hello: {
        cluster,
        server,
        host,
        pid,
        lanes: [Lane.LANE_NETWORK, Lane.LANE_CPU],
        appliedRevision: this.options.appliedRevision(),
        instanceId: this.instanceId,
        httpAddress: this.options.httpAddress?.() ?? '',
      },
    });
  }

  /**
   * Calls `onReady` once the client's connection is up (the control plane may still refuse the hello);
   * gives up when `done()` says the stream is over. A control plane that is up to date with this
   * server sends nothing on the stream, so the connection's state is what says it was reached.
   */
  private whenReady(client: SyncServiceClient, done: () => boolean, onReady: () => void): void {
    const channel = client.getChannel();
    const watch = (): void => {
      if (done()) return;
      const state = channel.getConnectivityState(false);
      if (state === connectivityState.READY) onReady();
      else if (state !== connectivityState.SHUTDOWN) channel.watchConnectivityState(state, Date.now() + 1000, watch);
    };
    watch();
  }

  private async answerTest(stream: { destroyed: boolean; write(message: SyncRequest): boolean }, test: ConnectionTest): Promise<void> {
    const timeoutMs = test.timeoutMs || 10_000;
    let result: { ok: boolean; error?: string; latencyMs: number };
    try {
      result = this.options.testConnection
        ? await this.options.testConnection(test.name, timeoutMs)
        : { ok: false, error: 'this server cannot test connections', latencyMs: 0 };
    } catch (err) {
      result = { ok: false, error: `connection '${test.name}': ${(err as Error).message}`, latencyMs: 0 };
    }
    this.log.info({ connection: test.name, ok: result.ok, latencyMs: result.latencyMs }, 'tested a connection');
    if (!stream.destroyed) {
      stream.write({ connectionTestReply: { id: test.id, ok: result.ok, error: result.error ?? '', latencyMs: Math.round(result.latencyMs) } });
    }
  }

  private async onPush(stream: ClientDuplexStream<SyncRequest, SyncResponse>, response: SyncResponse): Promise<void> {
    const update: Update = {
      revision: response.revision,
      full: response.full,
      removed: response.removed,
      drained: response.drained,
      services: response.services.map((s) => ({
        name: s.name,
        version: s.version,
        lane: s.lane === Lane.LANE_CPU ? 'cpu' : 'network',
        path: s.path,
        code: s.code,
        policy: s.policy,
        connections: s.connections,
      })),
      resources: response.resources.map(resourceFromWire),
      removedResources: response.removedResources,
    };
    const started = performance.now();
    let errors: ApplyError[];
    try {
      errors = await this.options.apply(update);
    } catch (err) {
      errors = [{ service: '', message: `apply failed: ${(err as Error).message}` }];
    }
    const ms = Math.round(performance.now() - started);
    if (errors.length) {
      this.log.warn({ revision: response.revision, errors, ms }, 'rejected push; keeping the last good state');
      const wire = errors.map((e) => ({ service: e.service, message: e.message, kind: e.kind ?? '' }));
      if (!stream.destroyed) stream.write({ nack: { nonce: response.nonce, revision: response.revision, errors: wire } });
    } else {
      this.log.info(
        { revision: response.revision, full: response.full, services: update.services.length, removed: update.removed.length, resources: update.resources.length, ms },
        'applied push',
      );
      if (!stream.destroyed) stream.write({ ack: { nonce: response.nonce, revision: response.revision } });
      this.firstApply.resolve();
    }
  }
}
