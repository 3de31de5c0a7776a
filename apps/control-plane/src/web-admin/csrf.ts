import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Constant-time comparison of two tokens (false when either is missing). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether a state-changing request comes from this site's own pages. `Sec-Fetch-Site`, which the
 * browser computes itself and no page can set, decides when sent: it must be `same-origin` (so a
 * reverse proxy that rewrites `Host` does not break the admin). Without it (older browsers), `Origin`
 * must be this listener's own origin. A request with neither is refused.
 */
export function sameOrigin(req: IncomingMessage, secure: boolean): boolean {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  const origin = header(req, 'origin');
  const host = header(req, 'host');
  return origin !== undefined && !!host && origin === `${secure ? 'https' : 'http'}://${host}`;
}

/** Both checks of a POST: the origin, and the hidden `_csrf` field against the session's (or the sign-in page's) token. */
export function csrfOk(req: IncomingMessage, secure: boolean, expected: string | undefined, given: string | undefined): boolean {
  return sameOrigin(req, secure) && sameToken(expected, given);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
