import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { csrfOk, sameOrigin, sameToken } from './csrf';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers: { host: '127.0.0.1:8090', ...headers } }) as unknown as IncomingMessage;

describe('CSRF checks', () => {
  it('compares tokens in constant time and refuses a missing one', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abc', 'abd')).toBe(false);
    expect(sameToken('abc', 'abcd')).toBe(false);
    expect(sameToken('', '')).toBe(false);
    expect(sameToken(undefined, 'x')).toBe(false);
  });

  it('accepts the same origin and refuses another site, a missing header and a wrong scheme', () => {
    expect(sameOrigin(req({ 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:8090' }), false)).toBe(true);
    expect(sameOrigin(req({ origin: 'http://127.0.0.1:8090' }), false)).toBe(true);
    expect(sameOrigin(req({ 'sec-fetch-site': 'same-origin' }), false)).toBe(true);
    expect(sameOrigin(req({ 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' }), false)).toBe(false);
    expect(sameOrigin(req({ 'sec-fetch-site': 'same-site', origin: 'http://127.0.0.1:8090' }), false)).toBe(false);
    expect(sameOrigin(req({ origin: 'http://evil.example' }), false)).toBe(false);
    expect(sameOrigin(req({ origin: 'null' }), false)).toBe(false);
    expect(sameOrigin(req({}), false)).toBe(false);
    expect(sameOrigin(req({ origin: 'http://127.0.0.1:8090' }), true)).toBe(false);
    expect(sameOrigin(req({ origin: 'https://127.0.0.1:8090' }), true)).toBe(true);
    // The browser's own Sec-Fetch-Site decides when sent: behind a proxy rewriting Host, or with Origin: null.
    expect(sameOrigin(req({ 'sec-fetch-site': 'same-origin', origin: 'https://admin.example' }), false)).toBe(true);
    expect(sameOrigin(req({ 'sec-fetch-site': 'same-origin', origin: 'null' }), false)).toBe(true);
    expect(sameOrigin(req({ 'sec-fetch-site': 'none', origin: 'http://127.0.0.1:8090' }), false)).toBe(false);
  });

  it('needs both the origin and the token', () => {
    const good = req({ 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:8090' });
    expect(csrfOk(good, false, 'tok', 'tok')).toBe(true);
    expect(csrfOk(good, false, 'tok', 'other')).toBe(false);
    expect(csrfOk(req({ 'sec-fetch-site': 'cross-site' }), false, 'tok', 'tok')).toBe(false);
  });
});
