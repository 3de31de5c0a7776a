import { rootCertificates } from 'node:tls';
import type { AmqpConnection } from '@laneway/proto';
import type { AmqpPublishOptions } from '@laneway/sdk';
import { amqp } from '../drivers';
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import type { Logger } from 'pino';
import { ConnectionError } from '../connection-error';
import { connectionFailure, prefix, scrub, type ConnectionInfo } from '../connection-info';
import type { Backend } from '../slot';

const CONNECT_TIMEOUT_MS = 10_000;

const channelErrors = new WeakMap<Channel, Error>();

/**
 * One AMQP connection and one publishing channel per connection version, opened on the first publish
 * and opened again on the next publish after either was closed (broker restart, network, a channel
 * error such as a missing exchange).
 */
export class AmqpBackend implements Backend {
  private model: ChannelModel | undefined;
  private channel: Channel | ConfirmChannel | undefined;
  private opening: Promise<Channel | ConfirmChannel> | undefined;
  private closed = false;

  constructor(
    private readonly spec: AmqpConnection,
    private readonly info: ConnectionInfo,
    private readonly log: Logger,
    private readonly server: string,
  ) {}

  async publish(exchange: string, routingKey: string, message: unknown, options: AmqpPublishOptions = {}): Promise<void> {
    const { content, contentType } = encodeMessage(message);
    const publishOptions: Options.Publish = {
      headers: options.headers,
      persistent: options.persistent ?? false,
      contentType: options.contentType ?? contentType,
    };
    let channel: Channel | ConfirmChannel;
    try {
      channel = await this.open();
    } catch (err) {
      throw connectionFailure(this.info, err);
    }
    const where = `publish to exchange '${exchange}' with routing key '${routingKey}'`;
    try {
      if (this.spec.confirm) {
        await new Promise<void>((resolve, reject) => {
          (channel as ConfirmChannel).publish(exchange, routingKey, content, publishOptions, (err) =>
            err ? reject(err instanceof Error ? err : new Error(`the broker refused the message (${String(err)})`)) : resolve(),
          );
        });
      } else if (!channel.publish(exchange, routingKey, content, publishOptions)) {
        // The socket's buffer is full: wait until it has room rather than buffer without bound.
        await new Promise<void>((resolve) => channel.once('drain', resolve));
      }
    } catch (err) {
      // A refused message closes the channel; its close error says why (e.g. 404 NOT_FOUND), while
      // the confirm callback only says "channel closed". The error event may come a moment later.
      await new Promise((r) => setImmediate(r));
      const reason = channelErrors.get(channel) ?? err;
      const message = reason instanceof Error ? reason.message : String(reason);
      throw connectionFailure(this.info, Object.assign(new Error(`${where}: ${message}`, { cause: err }), { code: (reason as { code?: unknown }).code }));
    }
  }

  private open(): Promise<Channel | ConfirmChannel> {
    if (this.closed) {
      return Promise.reject(
        new ConnectionError(`${prefix(this.info)}: closed`, { code: 'CLOSED', connection: this.info.name, kind: 'amqp', target: this.info.target }),
      );
    }
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async connect(): Promise<Channel | ConfirmChannel> {
    if (!this.model) {
      const model = await amqp().connect(connectOptions(this.spec, this.info), {
        ...socketOptions(this.spec),
        // Shown by the broker's tools (rabbitmqctl list_connections client_properties).
        clientProperties: { connection_name: `laneway ${this.server} ${this.info.name}` },
      });
      model.on('error', (err: Error) => this.log.warn({ connection: this.info.name, kind: 'amqp', err: scrub(err.message, this.info.secrets) }, 'amqp connection error'));
      model.on('close', (err?: Error) => {
        if (this.model === model) {
          // Not ours: the broker or the network dropped it (a forced close emits no 'error').
          this.log.warn({ connection: this.info.name, kind: 'amqp', err: err ? scrub(err.message, this.info.secrets) : undefined }, 'amqp connection closed; reopening on the next publish');
          this.model = undefined;
          this.channel = undefined;
        }
      });
      this.model = model;
    }
    const model = this.model;
    const channel = this.spec.confirm ? await model.createConfirmChannel() : await model.createChannel();
    channel.on('error', (err: Error) => {
      channelErrors.set(channel, err);
      this.log.warn({ connection: this.info.name, kind: 'amqp', err: scrub(err.message, this.info.secrets) }, 'amqp channel error');
    });
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    this.channel = channel;
    if (this.closed) await this.close();
    return channel;
  }

  async close(): Promise<void> {
    this.closed = true;
    const model = this.model;
    const channel = this.channel;
    this.model = undefined;
    this.channel = undefined;
    // The channel first: its close is queued behind what was published on it (and waits for the
    // confirms), while a connection close can overtake messages still in the channel's buffer.
    if (channel) await channel.close().catch(() => undefined);
    if (model) await model.close().catch(() => undefined);
  }
}

/** Opens a fresh connection, opens and closes a channel, and closes it. */
export async function probeAmqp(spec: AmqpConnection, info: ConnectionInfo, timeoutMs: number): Promise<void> {
  const model = await amqp().connect(connectOptions(spec, info), { ...socketOptions(spec), timeout: timeoutMs });
  model.on('error', () => undefined);
  try {
    const channel = await model.createChannel();
    await channel.close();
  } finally {
    await model.close().catch(() => undefined);
  }
}

function connectOptions(spec: AmqpConnection, info: ConnectionInfo): Options.Connect {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new ConnectionError(`${prefix(info)}: url is not an amqp:// or amqps:// URL`, { code: 'FAILED', connection: info.name, kind: 'amqp', target: info.target });
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new ConnectionError(`${prefix(info)}: url must be amqp:// or amqps://, not ${url.protocol}//`, {
      code: 'FAILED',
      connection: info.name,
      kind: 'amqp',
      target: info.target,
    });
  }
  // The AMQP URI scheme: an empty path is the default vhost "/", otherwise the path is the vhost.
  const vhost = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : '/';
  return {
    protocol: url.protocol.slice(0, -1),
    hostname: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === 'amqps:' ? 5671 : 5672,
    username: url.username ? decodeURIComponent(url.username) : 'guest',
    password: spec.password || (url.password ? decodeURIComponent(url.password) : 'guest'),
    vhost,
    heartbeat: 30,
  };
}

function socketOptions(spec: AmqpConnection): Record<string, unknown> {
  let servername: string | undefined;
  try {
    servername = new URL(spec.url).hostname;
  } catch {
    servername = undefined;
  }
  return {
    timeout: CONNECT_TIMEOUT_MS,
    servername,
    ...(spec.caPem ? { ca: [...rootCertificates, spec.caPem] } : {}),
  };
}

function encodeMessage(message: unknown): { content: Buffer; contentType: string | undefined } {
  if (typeof message === 'string') return { content: Buffer.from(message), contentType: 'text/plain' };
  if (message instanceof Uint8Array) return { content: Buffer.from(message.buffer, message.byteOffset, message.byteLength), contentType: undefined };
  return { content: Buffer.from(JSON.stringify(message) ?? 'null'), contentType: 'application/json' };
}
