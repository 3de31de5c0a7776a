import { createRedis, rateLimitKey, type RedisClient, type RedisSettings } from '@laneway/lanes';
import type { Logger } from 'pino';
import type { ChannelRoute } from './channel-route';

// How long a check waits for Redis before it lets the request through.
const CHECK_TIMEOUT_MS = 250;
// At most one warning this often while checks fail (every request of a limited channel fails one).
const WARN_EVERY_MS = 10_000;

/**
 * A fixed one-second window per channel and caller, counted in Redis so that every server of the
 * cluster draws on one budget (INCR then PEXPIRE in one round trip; the key outlives its second a
 * little, for clocks a few hundred ms apart). When Redis cannot be reached the request goes through:
 * a limiter outage must not take the channels down with it. Hence a connection of its own (see
 * {@link RateLimiter.connect}) that fails a check at once while Redis is away, instead of holding
 * the request until it is back.
 */
export class RateLimiter {
  private lastWarning = 0;

  /** The limiter's connection: no offline queue (a command fails while disconnected) and a 250 ms answer timeout. */
  static connect(settings: RedisSettings): RedisClient {
    const redis = createRedis(settings, { failFastMs: CHECK_TIMEOUT_MS });
    // Connection errors show up as failed checks (warned about below); ioredis would print each one.
    redis.on('error', () => undefined);
    return redis;
  }

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly cluster: string,
    private readonly log: Logger,
  ) {}

  readonly take = async (route: ChannelRoute, caller: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> => {
    const limit = route.rateLimitPerSecond ?? 0;
    if (!limit) return { ok: true };
    const second = Math.floor(Date.now() / 1000);
    const key = rateLimitKey(this.prefix, this.cluster, route.name, caller, second);
    try {
      const results = await this.redis.multi().incr(key).pexpire(key, 2000).exec();
      const count = Number(results?.[0]?.[1] ?? 0);
      return count > limit ? { ok: false, retryAfterSeconds: 1 } : { ok: true };
    } catch (err) {
      const now = Date.now();
      if (now - this.lastWarning >= WARN_EVERY_MS) {
        this.lastWarning = now;
        this.log.warn({ err: (err as Error).message, channel: route.name }, 'rate limits not checked (requests let through): Redis unavailable; next warning in 10 s at the earliest');
      }
      return { ok: true };
    }
  };
}
