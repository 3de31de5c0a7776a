// The fleet benchmark's servers: N sync streams held from one process, each as a data-plane server
// holds it (its own HTTP/2 connection, the cluster's join token, a Hello with its applied revision,
// an ACK of every push by its nonce, the server's reconnect backoff), without loading any service.
// Forked by main.ts; driven over IPC (see Command).
import { credentials, makeGenericClientConstructor, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { Lane, SyncServiceService, type SyncRequest } from '@laneway/proto';
import { randomUUID } from 'node:crypto';

export type Command =
  | { t: 'connect'; address: string; cluster: string; token: string; count: number }
  /** Answers { t: 'synced' } once every server has, on its current stream, ACKed a push at `revision` or later. */
  | { t: 'waitSynced'; id: number; revision: number }
  /** Answers { t: 'down' } once every server has lost its stream (the control plane was killed). */
  | { t: 'waitDown'; id: number }
  | { t: 'stop' };

export type Reply =
  | { t: 'ready' }
  | { t: 'synced'; id: number; lastAckAt: number; pushes: number; bytes: number }
  | { t: 'down'; id: number }
  | { t: 'error'; message: string };

// The server's own SyncAgent constants (apps/server/src/sync/sync-agent.ts): a fleet reconnecting at
// once after a control-plane restart spreads itself exactly as real servers would.
const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;
const HEALTHY_STREAM_MS = MAX_BACKOFF_MS;
// FLEET_CHANNEL_BACKOFF_MS: the channel's reconnect backoff the agent had before (5000), to compare.
const CHANNEL_MAX_BACKOFF_MS = Number(process.env['FLEET_CHANNEL_BACKOFF_MS'] ?? 1000);

/**
 * The generated SyncService client, except that pushes are handed over undecoded: a server would
 * decode and load every service, and doing that a thousand times in this process would take the CPU
 * the control plane is being measured on (2 cores). Only the push's header fields are read.
 */
const SyncClient = makeGenericClientConstructor(
  { sync: { ...SyncServiceService.sync, responseDeserialize: (bytes: Buffer): Buffer => bytes } },
  'laneway.v1.SyncService',
);

interface PushHeader {
  revision: number;
  nonce: string;
  connectionTestId: string | undefined;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
}

/** SyncResponse's revision (1), nonce (2) and connection_test.id (9.1); every other field is skipped. */
function readHeader(buf: Buffer): PushHeader {
  const header: PushHeader = { revision: 0, nonce: '', connectionTestId: undefined };
  let pos = 0;
  while (pos < buf.length) {
    let tag: number;
    [tag, pos] = readVarint(buf, pos);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      let value: number;
      [value, pos] = readVarint(buf, pos);
      if (field === 1) header.revision = value;
    } else if (wire === 2) {
      let length: number;
      [length, pos] = readVarint(buf, pos);
      if (field === 2) header.nonce = buf.toString('utf8', pos, pos + length);
      if (field === 9) header.connectionTestId = readHeader(buf.subarray(pos, pos + length)).nonce || 'unknown';
      pos += length;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unexpected wire type ${wire} at byte ${pos} of a push`);
  }
  return header;
}

class FakeServer {
  applied = 0;
  /** A push was ACKed on the current stream (the control plane took the hello). */
  synced = false;
  streamOpen = false;
  lastAckAt = 0;
  pushes = 0;
  bytes = 0;
  private backoffMs = MIN_BACKOFF_MS;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private stream: ClientDuplexStream<SyncRequest, Buffer> | undefined;
  private readonly client: InstanceType<typeof SyncClient>;
  private readonly instanceId = randomUUID();

  constructor(
    address: string,
    private readonly cluster: string,
    readonly name: string,
    private readonly token: string,
    private readonly onChange: () => void,
  ) {
    this.client = new SyncClient(address, credentials.createInsecure(), {
      // One HTTP/2 connection per server, as N processes would have (grpc-js would share one otherwise).
      'grpc.use_local_subchannel_pool': 1,
      'grpc.keepalive_time_ms': 5000,
      'grpc.keepalive_timeout_ms': 5000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': MIN_BACKOFF_MS,
      'grpc.max_reconnect_backoff_ms': CHANNEL_MAX_BACKOFF_MS,
    });
  }

  connect(): void {
    if (this.stopped) return;
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.token}`);
    const stream = (this.client as unknown as { sync(m: Metadata): ClientDuplexStream<SyncRequest, Buffer> }).sync(metadata);
    this.stream = stream;
    this.streamOpen = true;
    const openedAt = performance.now();
    let ended = false;
    const onEnd = (err?: ServiceError): void => {
      if (ended) return;
      ended = true;
      this.streamOpen = false;
      this.synced = false;
      this.onChange();
      if (this.stopped) return;
      // A stream that worked for a while and was then lost (its control plane died): start over.
      if (performance.now() - openedAt >= HEALTHY_STREAM_MS) this.backoffMs = MIN_BACKOFF_MS;
      const delay = this.backoffMs * (0.5 + Math.random() * 0.5);
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
      if (err && err.code !== 14 /* UNAVAILABLE */ && err.code !== 1 /* CANCELLED */) {
        process.stderr.write(`fleet server ${this.name}: stream ended with ${err.code} ${err.details}\n`);
      }
      this.timer = setTimeout(() => this.connect(), delay);
    };
    stream.on('data', (bytes: Buffer) => {
      this.backoffMs = MIN_BACKOFF_MS;
      this.pushes++;
      this.bytes += bytes.length;
      const push = readHeader(bytes);
      if (push.connectionTestId !== undefined) {
        stream.write({ connectionTestReply: { id: push.connectionTestId, ok: false, error: 'a fleet benchmark server holds no connections', latencyMs: 0 } });
        return;
      }
      this.applied = push.revision;
      stream.write({ ack: { nonce: push.nonce, revision: push.revision } });
      this.lastAckAt = Date.now();
      this.synced = true;
      this.onChange();
    });
    stream.on('error', (err: ServiceError) => onEnd(err));
    stream.on('end', () => onEnd());
    stream.on('close', () => onEnd());
    stream.write({
      hello: {
        cluster: this.cluster,
        server: this.name,
        host: 'fleet-bench',
        pid: process.pid,
        lanes: [Lane.LANE_NETWORK, Lane.LANE_CPU],
        appliedRevision: this.applied,
        instanceId: this.instanceId,
        httpAddress: '',
      },
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stream?.cancel();
    this.client.close();
  }
}

const servers: FakeServer[] = [];
let waiters: { done: () => boolean; reply: () => Reply }[] = [];
let checkScheduled = false;

const send = (reply: Reply): void => void process.send!(reply);

/** Checks the waiters at most once per turn of the event loop, not once per ACK. */
function changed(): void {
  if (checkScheduled) return;
  checkScheduled = true;
  setImmediate(() => {
    checkScheduled = false;
    waiters = waiters.filter((w) => {
      if (!w.done()) return true;
      send(w.reply());
      return false;
    });
  });
}

const totals = (): { lastAckAt: number; pushes: number; bytes: number } => ({
  lastAckAt: Math.max(...servers.map((s) => s.lastAckAt)),
  pushes: servers.reduce((n, s) => n + s.pushes, 0),
  bytes: servers.reduce((n, s) => n + s.bytes, 0),
});

process.on('message', (command: Command) => {
  try {
    if (command.t === 'connect') {
      for (let i = 0; i < command.count; i++) {
        const server = new FakeServer(command.address, command.cluster, `f${String(i + 1).padStart(4, '0')}`, command.token, changed);
        servers.push(server);
      }
      // All at once, as a fleet coming up together would.
      for (const server of servers) server.connect();
      send({ t: 'ready' });
    } else if (command.t === 'waitSynced') {
      waiters.push({ done: () => servers.every((s) => s.synced && s.applied >= command.revision), reply: () => ({ t: 'synced', id: command.id, ...totals() }) });
      changed();
    } else if (command.t === 'waitDown') {
      waiters.push({ done: () => servers.every((s) => !s.synced), reply: () => ({ t: 'down', id: command.id }) });
      changed();
    } else if (command.t === 'stop') {
      for (const server of servers) server.stop();
      process.disconnect();
    }
  } catch (err) {
    send({ t: 'error', message: (err as Error).message });
  }
});
