import { LimitExceededError } from '../errors';

/** Failed sign-ins allowed per minute: per user, and per peer address (many users from one place). */
export const LOGIN_FAILURES_PER_USER = 5;
export const LOGIN_FAILURES_PER_ADDRESS = 20;
const WINDOW_MS = 60_000;
/** Keys kept at most (an attacker inventing usernames must not grow memory without bound). */
const MAX_KEYS = 100_000;

/**
 * Counts failed Login calls in a sliding minute, per user and per peer address, in this process (each
 * control plane counts its own). Past a limit, Login is refused before the password is checked, with
 * RESOURCE_EXHAUSTED saying when to retry.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly perUser = LOGIN_FAILURES_PER_USER,
    private readonly perAddress = LOGIN_FAILURES_PER_ADDRESS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws when the user or the address is over its limit. */
  check(username: string, address: string): void {
    this.refuse('username', `user:${username}`, this.perUser, `user '${username}'`);
    this.refuse('peer', `addr:${address}`, this.perAddress, `address ${address}`);
  }

  fail(username: string, address: string): void {
    if (this.failures.size >= MAX_KEYS) this.prune();
    for (const key of [`user:${username}`, `addr:${address}`]) {
      const times = this.recent(key);
      times.push(this.now());
      this.failures.set(key, times);
    }
  }

  /** A successful sign-in clears the user's count (not the address's). */
  succeed(username: string): void {
    this.failures.delete(`user:${username}`);
  }

  private refuse(field: string, key: string, max: number, who: string): void {
    const times = this.recent(key);
    if (times.length < max) return;
    const retryAt = times[times.length - max]! + WINDOW_MS;
    const seconds = Math.max(1, Math.ceil((retryAt - this.now()) / 1000));
    throw new LimitExceededError(
      field,
      'login failures per minute',
      max,
      times.length,
      `too many failed sign-ins for ${who} (${max} a minute): try again in ${seconds} s (at ${new Date(retryAt).toISOString()})`,
    );
  }

  private recent(key: string): number[] {
    const since = this.now() - WINDOW_MS;
    const times = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }

  private prune(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
    // Still full: forget the oldest keys (Map keeps insertion order).
    for (const key of this.failures.keys()) {
      if (this.failures.size < MAX_KEYS / 2) break;
      this.failures.delete(key);
    }
  }
}

/** The address of a gRPC peer ("ipv4:10.0.0.1:5123", "ipv6:[::1]:5123") without its port. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^(ipv4|ipv6|unix):/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1]!;
  const v4 = /^([^:]+):\d+$/.exec(bare);
  return v4 ? v4[1]! : bare;
}
