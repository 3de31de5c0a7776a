import type { Redis } from 'ioredis';
import { rateLimitKey } from '@laneway/lanes';
import type { Logger } from 'pino';
import type { ChannelRoute } from './channel-route';

/**
 * A fixed one-second window per channel and caller, counted in Redis so that every server of the
 * cluster draws on one budget (INCR then PEXPIRE in one round trip; the key outlives its second a
 * little, for clocks a few hundred ms apart). When Redis cannot be reached the request goes through:
 * a limiter outage must not take the channels down with it.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
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
      this.log.warn({ err, channel: route.name }, 'rate limit not checked: Redis unavailable');
      return { ok: true };
    }
  };
}
