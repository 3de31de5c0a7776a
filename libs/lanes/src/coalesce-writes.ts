import type { Socket } from 'node:net';
import type { RedisClient } from './create-redis';

const corked = new WeakSet<Socket>();

/**
 * Holds the Redis connection's writes until the end of this event-loop turn, then sends them as one
 * write. ioredis writes each command to the socket on its own, and on this kind of machine a loopback
 * write costs more than the command: when one event releases many calls at once (a batch of replies
 * arriving at a caller), the commands they send (one add each) are better sent together. Redis then
 * also reads them with one read. (On a server, around BullMQ's moveToFinished, it changed nothing:
 * BullMQ completes those jobs in different turns.) Nothing is
 * reordered: the socket only buffers, and `setImmediate` runs after every promise continuation of the
 * turn. ioredis's own auto-pipelining does the same through a Pipeline object per batch, and measured
 * slower here. A Cluster connection has no one socket: nothing is held there.
 */
export function coalesceWrites(redis: RedisClient): void {
  const stream = (redis as unknown as { stream?: Socket }).stream;
  if (!stream || stream.destroyed || corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  setImmediate(() => {
    corked.delete(stream);
    stream.uncork();
  });
}
