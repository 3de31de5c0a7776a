import { describe, expect, it } from 'vitest';
import { LimitExceededError } from '../errors';
import { LoginLimiter, peerAddress } from './login-limiter';

describe('LoginLimiter', () => {
  it('refuses a user after 5 failures in a minute, naming when to retry, and lets them in again after', () => {
    let now = 1_000_000;
    const limiter = new LoginLimiter(5, 20, () => now);
    for (let i = 0; i < 5; i++) {
      expect(() => limiter.check('ann', '10.0.0.1')).not.toThrow();
      limiter.fail('ann', '10.0.0.1');
      now += 1000;
    }
    let refused: unknown;
    try {
      limiter.check('ann', '10.0.0.2');
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(LimitExceededError);
    // The first failure was at 1_000_000: the window frees at 1_060_000, 55 s after now.
    expect((refused as Error).message).toMatch(/too many failed sign-ins for user 'ann' \(5 a minute\): try again in 55 s \(at 1970-01-01T00:17:40\.000Z\)/);
    // Another user from another address is not affected.
    expect(() => limiter.check('bob', '10.0.0.3')).not.toThrow();
    now = 1_060_001;
    expect(() => limiter.check('ann', '10.0.0.1')).not.toThrow();
  });

  it('refuses an address after 20 failures in a minute, whatever the usernames', () => {
    const limiter = new LoginLimiter(5, 20, () => 5_000);
    for (let i = 0; i < 20; i++) limiter.fail(`user${i}`, '192.0.2.7');
    expect(() => limiter.check('someone-new', '192.0.2.7')).toThrow(/address 192\.0\.2\.7 \(20 a minute\)/);
    expect(() => limiter.check('someone-new', '192.0.2.8')).not.toThrow();
  });

  it('clears the user count on success', () => {
    const limiter = new LoginLimiter(2, 100, () => 5_000);
    limiter.fail('ann', 'a');
    limiter.fail('ann', 'a');
    expect(() => limiter.check('ann', 'a')).toThrow(LimitExceededError);
    limiter.succeed('ann');
    expect(() => limiter.check('ann', 'a')).not.toThrow();
  });

  it('reads the address of a gRPC peer without its port', () => {
    expect(peerAddress('ipv4:127.0.0.1:50123')).toBe('127.0.0.1');
    expect(peerAddress('ipv6:[::1]:50123')).toBe('::1');
    expect(peerAddress('unix:/tmp/s.sock')).toBe('/tmp/s.sock');
  });
});
