import { rootCertificates } from 'node:tls';
import type { RedisConnection } from '@laneway/proto';
import type { Redis, RedisOptions } from 'ioredis';
import { redis } from '../drivers';
import type { Logger } from 'pino';
import { ConnectionError } from '../connection-error';
import { prefix, scrub, type ConnectionInfo } from '../connection-info';
import type { Backend, Slot } from '../slot';

const CONNECT_TIMEOUT_MS = 10_000;

/** One shared ioredis client per connection version; its commands count as in flight on the slot. */
export class RedisBackend implements Backend {
  readonly client: Redis;

  constructor(spec: RedisConnection, slot: Slot, log: Logger) {
    this.client = new (redis().Redis)(spec.url, { ...redisOptions(spec, slot.info), lazyConnect: true, maxRetriesPerRequest: 3 });
    this.client.on('error', (err: Error) => {
      log.warn({ connection: slot.info.name, kind: 'redis', err: scrub(err.message, slot.info.secrets) }, 'redis connection error');
    });
    // Every command, pipelined or not, goes through sendCommand: count it until it is answered.
    const send = this.client.sendCommand.bind(this.client);
    this.client.sendCommand = ((command, ...rest) => {
      slot.enter();
      const end = slot.traceCall?.({ operation: command.name.toUpperCase() });
      const leave = (): void => slot.leave();
      if (end) {
        command.promise.then(
          () => {
            leave();
            end(undefined);
          },
          (err: unknown) => {
            leave();
            end(err);
          },
        );
      } else command.promise.then(leave, leave);
      return send(command, ...rest);
    }) as Redis['sendCommand'];
  }

  async close(): Promise<void> {
    if (this.client.status === 'wait' || this.client.status === 'end') {
      this.client.disconnect();
      return;
    }
    // QUIT is answered after every command sent before it; the socket closes just after.
    const ended = new Promise((resolve) => this.client.once('end', resolve));
    await this.client.quit().catch(() => this.client.disconnect());
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  }
}

export function redisOptions(spec: RedisConnection, info: ConnectionInfo): RedisOptions {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new ConnectionError(`${prefix(info)}: url is not a redis:// or rediss:// URL`, { code: 'FAILED', connection: info.name, kind: 'redis', target: info.target });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConnectionError(`${prefix(info)}: url must be redis:// or rediss://, not ${url.protocol}//`, {
      code: 'FAILED',
      connection: info.name,
      kind: 'redis',
      target: info.target,
    });
  }
  return {
    password: spec.password || undefined,
    keyPrefix: spec.keyPrefix || undefined,
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(url.protocol === 'rediss:'
      ? { tls: { servername: url.hostname, ...(spec.caPem ? { ca: [...rootCertificates, spec.caPem] } : {}) } }
      : {}),
  };
}
