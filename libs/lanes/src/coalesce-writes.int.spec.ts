import { Redis } from 'ioredis';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { coalesceWrites } from './coalesce-writes';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('coalesceWrites against real Redis', () => {
  const redis = new Redis(REDIS_URL);
  afterAll(() => redis.quit());

  it('sends the commands of one turn in one socket write, in order, and releases the socket after the turn', async () => {
    await redis.ping();
    const socket = (redis as unknown as { stream: Socket }).stream;
    // Count what reaches the kernel: one _writev (or _write) per flush of the socket's buffer.
    let flushes = 0;
    const original = { write: socket._write, writev: socket._writev };
    socket._write = function (...args: Parameters<Socket['_write']>) {
      flushes++;
      return original.write.apply(this, args);
    };
    socket._writev = function (...args: Parameters<NonNullable<Socket['_writev']>>) {
      flushes++;
      return original.writev!.apply(this, args);
    };
    try {
      const key = `lwtest-coalesce-${process.pid}`;
      coalesceWrites(redis);
      coalesceWrites(redis); // a second call in the same turn changes nothing
      expect(socket.writableCorked).toBe(1);
      const replies = Promise.all(Array.from({ length: 20 }, (_, n) => redis.rpush(key, String(n))));
      expect(flushes).toBe(0);
      await new Promise((r) => setImmediate(r));
      expect(socket.writableCorked).toBe(0);
      expect(await replies).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
      expect(flushes).toBe(1);
      expect(await redis.lrange(key, 0, -1)).toEqual(Array.from({ length: 20 }, (_, n) => String(n)));
      await redis.del(key);
      // Without it, each command is its own write.
      const before = flushes;
      await Promise.all([redis.ping(), redis.ping(), redis.ping()]);
      expect(flushes - before).toBe(3);
    } finally {
      socket._write = original.write;
      socket._writev = original.writev;
    }
  });
});
