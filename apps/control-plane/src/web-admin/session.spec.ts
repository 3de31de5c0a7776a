import { describe, expect, it } from 'vitest';
import { SessionStore } from './session';

const user = (expiresAt: number) => ({ token: 'lwu_secret', username: 'ada', role: 'viewer' as const, expiresAt });

describe('SessionStore', () => {
  it('makes opaque random ids and CSRF tokens, and finds a session by its id', () => {
    const store = new SessionStore();
    const a = store.create(user(Date.now() + 60_000));
    const b = store.create(user(Date.now() + 60_000));
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.csrf).not.toBe(a.id);
    expect(a.id).not.toContain('lwu_');
    expect(store.get(a.id)).toBe(a);
    expect(store.get('nope')).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
  });

  it('ends a session at its token expiry and after the idle time', () => {
    let now = 1_000_000;
    const store = new SessionStore({ idleMs: 10_000, now: () => now });
    const short = store.create(user(now + 5_000));
    const long = store.create(user(now + 3_600_000));
    now += 5_000;
    expect(store.get(short.id)).toBeUndefined();
    expect(store.get(long.id)).toBe(long);
    now += 9_999;
    expect(store.get(long.id)).toBe(long);
    now += 10_000;
    expect(store.get(long.id)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('evicts the least recently seen session past the maximum', () => {
    const store = new SessionStore({ max: 2 });
    const evicted: string[] = [];
    const a = store.create(user(Date.now() + 60_000));
    const b = store.create(user(Date.now() + 60_000));
    store.get(a.id);
    store.create(user(Date.now() + 60_000), (s) => evicted.push(s.id));
    expect(evicted).toEqual([b.id]);
    expect(store.get(a.id)).toBe(a);
  });
});
