import { ApiError, PermissionDeniedError, UnauthenticatedError, type ApiClient } from '@laneway/api-client';
import { Role } from '@laneway/proto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpListener, type RunningHttpListener } from '../http/http-listener';
import { ControlPlaneMetrics } from '../metrics/control-plane-metrics';
import { createWebAdmin, type WebAdmin } from './web-admin';

/** A stand-in for the control plane's API: what the web admin sends it, and answers as the real one would. */
function fakeApi() {
  const calls: { token: string | undefined; method: string; args: unknown[] }[] = [];
  const users: Record<string, { password: string; role: Role }> = {
    vera: { password: 'viewer-password', role: Role.ROLE_VIEWER },
    otto: { password: 'operator-password', role: Role.ROLE_OPERATOR },
  };
  let issued = 0;
  const tokens = new Map<string, { user: string; id: string; expiresAt: string; revoked: boolean }>();
  const client = (token: string | undefined): ApiClient => {
    const record = (method: string, args: unknown[]) => calls.push({ token, method, args });
    const who = () => {
      const t = token && tokens.get(token);
      if (!t || t.revoked) throw new UnauthenticatedError(16, 'no such token');
      return { name: t.user, role: users[t.user]!.role, id: t.id, expiresAt: t.expiresAt };
    };
    const api = {
      login(username: string, password: string) {
        record('login', [username]);
        if (users[username]?.password !== password) return Promise.reject(new UnauthenticatedError(16, 'wrong username or password'));
        const value = `lwu_token_${++issued}`;
        const expiresAt = new Date(Date.now() + 3600_000).toISOString();
        tokens.set(value, { user: username, id: `id${issued}`, expiresAt, revoked: false });
        return Promise.resolve({ token: value, expiresAt, user: { username, role: users[username]!.role, createdAt: '', updatedAt: '' } });
      },
      listTokens() {
        record('listTokens', []);
        const me = who();
        return Promise.resolve({
          tokens: [...tokens.values()].filter((t) => t.user === me.name).map((t) => ({ id: t.id, name: 'login', username: t.user, createdAt: '', expiresAt: t.expiresAt, revokedAt: t.revoked ? 'x' : '', lastUsedAt: '' })),
        });
      },
      revokeToken(id: string) {
        record('revokeToken', [id]);
        who();
        for (const t of tokens.values()) if (t.id === id) t.revoked = true;
        return Promise.resolve();
      },
      listClusters() {
        record('listClusters', []);
        who();
        return Promise.resolve({ clusters: [{ name: 'prod<script>', revision: 3, createdAt: '', serviceCount: 1 }] });
      },
      listServers(cluster: string) {
        record('listServers', [cluster]);
        who();
        return Promise.resolve({
          revision: 3,
          servers: [{ name: 's1', host: 'h<b>', pid: 1, lanes: [1], connected: true, appliedRevision: 3, lastSeen: new Date().toISOString(), lastNack: [], drained: false, httpAddress: '127.0.0.1:8080' }],
        });
      },
      drainServer(cluster: string, server: string) {
        record('drainServer', [cluster, server]);
        if (who().role < Role.ROLE_OPERATOR) return Promise.reject(new PermissionDeniedError(7, 'DrainServer needs the operator role'));
        return Promise.resolve({ name: server });
      },
      close() {
        // nothing to close
      },
    };
    return api as unknown as ApiClient;
  };
  return { calls, tokens, client };
}

describe('web admin over the HTTP listener', () => {
  const api = fakeApi();
  let listener: RunningHttpListener;
  let admin: WebAdmin;
  let base: string;
  let origin: string;

  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    admin = createWebAdmin({ client: api.client, secure: false, logger });
    listener = await startHttpListener({ host: '127.0.0.1', port: 0, metrics: new ControlPlaneMetrics(), healthy: () => Promise.resolve(true), logger, webAdmin: admin });
    origin = `http://127.0.0.1:${listener.port}`;
    base = origin;
  });
  afterAll(async () => {
    admin.close();
    await listener.close();
  });

  const cookieOf = (response: Response, name: string): string | undefined =>
    response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  const valueOf = (cookie: string | undefined): string => decodeURIComponent(cookie!.split(';')[0]!.split('=')[1]!);
  const hidden = (page: string, name: string): string => new RegExp(`name="${name}" value="([^"]+)"`).exec(page)![1]!;

  async function signIn(username: string, password: string): Promise<{ cookie: string; csrf: string }> {
    const form = await fetch(`${base}/login`);
    const loginCookie = valueOf(cookieOf(form, 'lw_login'));
    const csrf = hidden(await form.text(), '_csrf');
    const answer = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin, 'sec-fetch-site': 'same-origin', cookie: `lw_login=${loginCookie}` },
      body: new URLSearchParams({ _csrf: csrf, username, password }),
    });
    expect(answer.status).toBe(303);
    const session = cookieOf(answer, 'lw_session')!;
    expect(session).toMatch(/; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(session).not.toContain('Secure');
    const cookie = `lw_session=${valueOf(session)}`;
    const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
    return { cookie, csrf: hidden(page, '_csrf') };
  }

  const post = (path: string, cookie: string, fields: Record<string, string>, headers: Record<string, string> = { origin, 'sec-fetch-site': 'same-origin' }) =>
    fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers }, body: new URLSearchParams(fields) });

  it('keeps /metrics and /healthz without a session, and answers 404 for an unknown path', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
  });

  it('sends the security headers on every page and asset, and no-store on pages', async () => {
    for (const path of ['/login', '/assets/admin.js', '/assets/admin.css', '/assets/uplot.js', '/nowhere']) {
      const r = await fetch(`${base}${path}`);
      expect(r.headers.get('content-security-policy'), path).toBe(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
      );
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('referrer-policy')).toBe('same-origin');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
    }
    expect((await fetch(`${base}/login`)).headers.get('cache-control')).toBe('no-store');
    const page = await (await fetch(`${base}/login`)).text();
    expect(page).not.toMatch(/<script>|\sstyle="|\son[a-z]+="/);
  });

  it('sends a browser without a session to the sign-in page, and refuses data and POSTs', async () => {
    const r = await fetch(`${base}/services?x=1`, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/login?next=%2Fservices%3Fx%3D1');
    expect((await fetch(`${base}/data/`)).status).toBe(401);
    expect((await post('/', 'lw_session=forged', { _action: 'drain' })).status).toBe(401);
  });

  it('refuses a sign-in without the form token or from another site', async () => {
    const answer = await post('/login', '', { username: 'vera', password: 'viewer-password' });
    expect(answer.status).toBe(403);
    expect(cookieOf(answer, 'lw_session')).toBeUndefined();
    const form = await fetch(`${base}/login`);
    const loginCookie = `lw_login=${valueOf(cookieOf(form, 'lw_login'))}`;
    const csrf = hidden(await form.text(), '_csrf');
    const crossSite = await post('/login', loginCookie, { _csrf: csrf, username: 'vera', password: 'viewer-password' }, { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
  });

  it('shows a wrong password as such, without a session', async () => {
    const form = await fetch(`${base}/login`);
    const loginCookie = `lw_login=${valueOf(cookieOf(form, 'lw_login'))}`;
    const csrf = hidden(await form.text(), '_csrf');
    const answer = await post('/login', loginCookie, { _csrf: csrf, username: 'vera', password: 'wrong-password' });
    expect(answer.status).toBe(401);
    expect(await answer.text()).toContain('Wrong username or password.');
  });

  it('signs in, calls the API with the user token only, escapes what the API answers, and keeps the token from the browser', async () => {
    const { cookie } = await signIn('vera', 'viewer-password');
    const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
    expect(page).toContain('Cluster prod&lt;script&gt;');
    expect(page).toContain('h&lt;b&gt;');
    expect(page).not.toContain('lwu_token');
    expect(page).not.toMatch(/Drain s1/);
    const data = await (await fetch(`${base}/data/`, { headers: { cookie } })).json();
    expect(JSON.stringify(data)).not.toContain('lwu_token');
    const reads = api.calls.filter((c) => c.method === 'listClusters');
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((c) => c.token?.startsWith('lwu_token_'))).toBe(true);
  });

  it('refuses a POST without the session CSRF token or from another origin, and shows an API refusal with its status', async () => {
    const { cookie, csrf } = await signIn('vera', 'viewer-password');
    const before = api.calls.filter((c) => c.method === 'drainServer').length;
    expect((await post('/', cookie, { _action: 'drain', cluster: 'c', server: 's1' })).status).toBe(403);
    expect((await post('/', cookie, { _csrf: 'wrong', _action: 'drain', cluster: 'c', server: 's1' })).status).toBe(403);
    expect((await post('/', cookie, { _csrf: csrf, _action: 'drain', cluster: 'c', server: 's1' }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await post('/', cookie, { _csrf: csrf, _action: 'drain', cluster: 'c', server: 's1' }, {})).status).toBe(403);
    expect(api.calls.filter((c) => c.method === 'drainServer').length).toBe(before);
    // A viewer forcing the POST: the API refuses it, and the page says so.
    const forced = await post('/', cookie, { _csrf: csrf, _action: 'drain', cluster: 'c', server: 's1' });
    expect(forced.status).toBe(303);
    expect(forced.headers.get('location')).toBe('/');
    const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
    expect(page).toContain('PERMISSION_DENIED: DrainServer needs the operator role');
    // The flash shows once.
    expect(await (await fetch(`${base}/`, { headers: { cookie } })).text()).not.toContain('PERMISSION_DENIED');
  });

  it('lets an operator drain, and signs out revoking the login token', async () => {
    const { cookie, csrf } = await signIn('otto', 'operator-password');
    const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
    expect(page).toContain('Drain s1');
    await post('/', cookie, { _csrf: csrf, _action: 'drain', cluster: 'c', server: 's1' });
    expect(await (await fetch(`${base}/`, { headers: { cookie } })).text()).toContain('Drained s1.');
    const out = await post('/logout', cookie, { _csrf: csrf });
    expect(out.status).toBe(303);
    expect(cookieOf(out, 'lw_session')).toContain('Max-Age=0');
    const mine = [...api.tokens.values()].filter((t) => t.user === 'otto');
    expect(mine.length).toBe(1);
    expect(mine[0]!.revoked).toBe(true);
    expect((await fetch(`${base}/`, { headers: { cookie }, redirect: 'manual' })).headers.get('location')).toBe('/login');
  });

  it('shows an unexpected failure as a message and an id, never a stack', async () => {
    const logger = pino({ level: 'silent' });
    const broken = createWebAdmin({
      client: (token) => {
        const c = api.client(token);
        return Object.assign(Object.create(c) as ApiClient, { listClusters: () => Promise.reject(new Error('kaboom at /secret/path.ts:12')) });
      },
      secure: false,
      logger,
    });
    const l2 = await startHttpListener({ host: '127.0.0.1', port: 0, metrics: new ControlPlaneMetrics(), healthy: () => Promise.resolve(true), logger, webAdmin: broken });
    try {
      const o2 = `http://127.0.0.1:${l2.port}`;
      const form = await fetch(`${o2}/login`);
      const loginCookie = `lw_login=${valueOf(cookieOf(form, 'lw_login'))}`;
      const csrf = hidden(await form.text(), '_csrf');
      const signedIn = await fetch(`${o2}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: o2, cookie: loginCookie },
        body: new URLSearchParams({ _csrf: csrf, username: 'vera', password: 'viewer-password' }),
      });
      const cookie = `lw_session=${valueOf(cookieOf(signedIn, 'lw_session'))}`;
      const r = await fetch(`${o2}/`, { headers: { cookie } });
      expect(r.status).toBe(500);
      const text = await r.text();
      expect(text).toMatch(/error id [A-Za-z0-9_-]{8}/);
      expect(text).not.toContain('kaboom');
      expect(text).not.toContain('.ts:');
    } finally {
      broken.close();
      await l2.close();
    }
  });

  it('maps an ApiError of any status to its name and message', async () => {
    const { apiErrorMessage } = await import('./web-admin');
    expect(apiErrorMessage(new ApiError(5, 'no cluster x'))).toBe('NOT_FOUND: no cluster x');
    expect(apiErrorMessage(new Error('plain'))).toBeUndefined();
  });

  it('stops asking the API after 10 failed sign-ins a minute from one address', async () => {
    const before = api.calls.filter((c) => c.method === 'login').length;
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const form = await fetch(`${base}/login`);
      const loginCookie = `lw_login=${valueOf(cookieOf(form, 'lw_login'))}`;
      const csrf = hidden(await form.text(), '_csrf');
      const answer = await post('/login', loginCookie, { _csrf: csrf, username: 'nobody', password: 'wrong-password' });
      statuses.push(answer.status);
      if (i === 10) expect(await answer.text()).toMatch(/Too many failed sign-ins from your address: try again in \d+ s\./);
    }
    // One failure was the earlier test's; the 10th and 11th here are refused without a call.
    expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
    expect(statuses.slice(9)).toEqual([429, 429]);
    expect(api.calls.filter((c) => c.method === 'login').length - before).toBe(9);
  });
});
