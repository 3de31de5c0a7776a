import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiClient } from '@laneway/api-client';
import type { Logger } from 'pino';
import { ASSETS, type Asset } from './assets';
import { csrfOk } from './csrf';
import { html } from './html';
import { BodyTooLarge, parseCookies, parseForm, readBody, sendText, serializeCookie, type FormData } from './http-util';
import { layout } from './layout';
import { roleAtLeast, UserError, type Page, type PageContext } from './page';

export { UserError } from './page';
import { loginPage } from './pages/login';
import { PAGES } from './pages/registry';
import { randomId, SessionStore, type Flash, type Role, type Session } from './session';

export const SESSION_COOKIE = 'lw_session';
/** The sign-in form's own CSRF token (double submit: cookie and hidden field), before there is a session. */
export const LOGIN_COOKIE = 'lw_login';
const DEFAULT_MAX_BODY = 1024 * 1024;
/**
 * Failed sign-ins per browser address and minute before the web admin stops asking the API. Every
 * sign-in reaches Login from this process's own address, which Login limits to 20 failures a minute
 * for all of them together: without this, one address guessing passwords would lock every user out
 * of the web admin for a minute.
 */
const LOGIN_FAILURES_PER_MINUTE = 10;
const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

export interface WebAdminOptions {
  /**
   * A client of the control plane's own gRPC API carrying `token` (undefined: no token, for Login).
   * The web admin has no other way to read or change anything.
   */
  client(token: string | undefined): ApiClient;
  /** Cookies get `Secure` (set when the listener is not loopback or serves TLS). */
  secure: boolean;
  logger: Logger;
  sessions?: SessionStore;
  pages?: readonly Page[];
  /** This control plane's id, to tell its own servers from another's. */
  controlPlaneId?: string;
}

export interface WebAdmin {
  /** Answers a request of the web admin (anything but /metrics and /healthz). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  readonly sessions: SessionStore;
  close(): void;
}

const ROLE_NAMES: Record<number, Role> = { 1: 'viewer', 2: 'operator', 3: 'admin' };

/** An error a page may show: a gRPC refusal (ApiError) shows its status and what the control plane said. */
export function apiErrorMessage(err: unknown): string | undefined {
  if (err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'number' && typeof (err as { status?: unknown }).status === 'string') {
    const e = err as { status: string; detail?: string; details?: string };
    return `${e.status}: ${e.detail ?? e.details ?? ''}`;
  }
  return undefined;
}

function isUnauthenticated(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { status?: unknown }).status === 'UNAUTHENTICATED';
}

function errorId(): string {
  return randomId(6);
}

/** The web admin: sign-in, sessions, CSRF, the pages of pages/registry.ts, their actions and data, and the assets. */
export function createWebAdmin(options: WebAdminOptions): WebAdmin {
  const log = options.logger.child({ component: 'web-admin' });
  const sessions = options.sessions ?? new SessionStore();
  const pages = options.pages ?? PAGES;
  const clients = new Map<string, ApiClient>();
  let anonymous: ApiClient | undefined;
  const secure = options.secure;

  const dropClient = (session: Session): void => {
    clients.get(session.id)?.close();
    clients.delete(session.id);
  };
  const clientOf = (session: Session): ApiClient => {
    let client = clients.get(session.id);
    if (!client) {
      client = options.client(session.token);
      clients.set(session.id, client);
    }
    return client;
  };
  const sweep = setInterval(() => sessions.sweep(dropClient), 60_000);
  sweep.unref();

  const pageHeaders = { 'cache-control': 'no-store' };
  const sendHtml = (res: ServerResponse, status: number, body: string, head: boolean, headers: Record<string, string> = {}): void =>
    sendText(res, status, HTML, body, { ...pageHeaders, ...headers }, head);
  const sendJson = (res: ServerResponse, status: number, value: unknown, head = false): void =>
    sendText(res, status, JSON_TYPE, JSON.stringify(value), pageHeaders, head);
  const redirect = (res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void => {
    res.writeHead(303, { 'cache-control': 'no-store', location, 'content-length': '0', ...headers });
    res.end();
  };
  const errorPage = (res: ServerResponse, status: number, title: string, message: string, session: Session | undefined, head: boolean): void => {
    sendHtml(res, status, layout({ title, body: html`<p class="error">${message}</p><p><a href="/">Back to the overview</a></p>`, session, nav: pages }).value, head);
  };

  const sessionOf = (req: IncomingMessage): Session | undefined => sessions.get(parseCookies(req.headers.cookie).get(SESSION_COOKIE));

  const findPage = (path: string): { page: Page; params: string[] } | undefined => {
    if (path === '/' || path === '') {
      const overview = pages.find((p) => p.path === '/');
      return overview && { page: overview, params: [] };
    }
    for (const page of pages) {
      if (page.path === '/') continue;
      if (path === page.path || path.startsWith(`${page.path}/`)) {
        const rest = path.slice(page.path.length).split('/').filter((s) => s !== '');
        try {
          return { page, params: rest.map((s) => decodeURIComponent(s)) };
        } catch {
          return undefined;
        }
      }
    }
    return undefined;
  };

  const contextFor = (req: IncomingMessage, url: URL, session: Session, params: string[], requestId: string): PageContext => ({
    url,
    params,
    session,
    api: clientOf(session),
    role: session.role,
    can: (least: Role) => roleAtLeast(session.role, least),
    requestId,
    log: log.child({ requestId, user: session.username }),
    controlPlaneId: options.controlPlaneId ?? '',
  });

  const signOut = (res: ServerResponse, session: Session | undefined, location = '/login'): void => {
    if (session) {
      sessions.delete(session.id);
      dropClient(session);
    }
    redirect(res, location, { 'set-cookie': serializeCookie(SESSION_COOKIE, '', { secure, maxAge: 0 }) });
  };

  const loginGet = (req: IncomingMessage, res: ServerResponse, url: URL, head: boolean, message?: string, status = 200): void => {
    const token = parseCookies(req.headers.cookie).get(LOGIN_COOKIE) || randomId();
    const next = safeNext(url.searchParams.get('next'));
    sendHtml(res, status, layout({ title: 'Sign in', body: loginPage({ csrf: token, next, message }) }).value, head, {
      'set-cookie': serializeCookie(LOGIN_COOKIE, token, { secure }),
    });
  };

  const failedLogins = new Map<string, { count: number; since: number }>();
  /** Seconds until this address may try again, 0 when it may now. */
  const loginWait = (address: string): number => {
    const entry = failedLogins.get(address);
    if (!entry) return 0;
    const left = entry.since + 60_000 - Date.now();
    if (left <= 0) {
      failedLogins.delete(address);
      return 0;
    }
    return entry.count >= LOGIN_FAILURES_PER_MINUTE ? Math.ceil(left / 1000) : 0;
  };
  const loginFailed = (address: string): void => {
    if (failedLogins.size > 10_000) for (const [a, e] of failedLogins) if (e.since + 60_000 < Date.now()) failedLogins.delete(a);
    const entry = failedLogins.get(address);
    if (entry && entry.since + 60_000 > Date.now()) entry.count++;
    else failedLogins.set(address, { count: 1, since: Date.now() });
  };

  const loginPost = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const form = parseForm(req.headers['content-type'], await readBody(req, 64 * 1024));
    const expected = parseCookies(req.headers.cookie).get(LOGIN_COOKIE);
    if (!csrfOk(req, secure, expected, form.get('_csrf'))) {
      loginGet(req, res, url, false, 'The sign-in form expired or came from another site: try again.', 403);
      return;
    }
    const username = (form.get('username') ?? '').trim();
    const password = form.get('password') ?? '';
    const address = req.socket.remoteAddress ?? '';
    const wait = loginWait(address);
    if (wait > 0) {
      loginGet(req, res, url, false, `Too many failed sign-ins from your address: try again in ${wait} s.`, 429);
      return;
    }
    anonymous ??= options.client(undefined);
    let answer: Awaited<ReturnType<ApiClient['login']>>;
    try {
      answer = await anonymous.login(username, password);
    } catch (err) {
      const message = apiErrorMessage(err);
      if (!message) throw err;
      const status = (err as { status: string }).status;
      if (status === 'UNAUTHENTICATED' || status === 'INVALID_ARGUMENT') loginFailed(address);
      const text = status === 'UNAUTHENTICATED' ? 'Wrong username or password.' : message;
      loginGet(req, res, url, false, text, status === 'RESOURCE_EXHAUSTED' ? 429 : 401);
      return;
    }
    const role = ROLE_NAMES[answer.user?.role ?? 0] ?? 'viewer';
    const expiresAt = answer.expiresAt ? Date.parse(answer.expiresAt) : Date.now() + 3600_000;
    const session = sessions.create({ token: answer.token, username: answer.user?.username ?? username, role, expiresAt, loginExpiresAt: answer.expiresAt }, dropClient);
    const maxAge = Math.max(1, Math.floor((expiresAt - Date.now()) / 1000));
    redirect(res, safeNext(form.get('next')) ?? '/', {
      'set-cookie': [serializeCookie(SESSION_COOKIE, session.id, { secure, maxAge }), serializeCookie(LOGIN_COOKIE, '', { secure, maxAge: 0 })],
    });
  };

  const logoutPost = async (req: IncomingMessage, res: ServerResponse, session: Session | undefined): Promise<void> => {
    const form = parseForm(req.headers['content-type'], await readBody(req, 64 * 1024));
    if (!session || !csrfOk(req, secure, session.csrf, form.get('_csrf'))) {
      signOut(res, undefined);
      return;
    }
    // The login token goes with the session: found by its name and expiry among the user's own tokens.
    try {
      const api = clientOf(session);
      const { tokens } = await api.listTokens('');
      const mine = tokens.find((t) => t.name === 'login' && t.expiresAt === session.loginExpiresAt && !t.revokedAt);
      if (mine) await api.revokeToken(mine.id);
    } catch (err) {
      log.warn({ err, user: session.username }, 'could not revoke the login token at sign-out');
    }
    signOut(res, session);
  };

  const serveAsset = (res: ServerResponse, asset: Asset, head: boolean): void => {
    sendText(res, 200, asset.type, asset.body, { 'cache-control': 'no-cache', etag: asset.etag }, head);
  };

  /** The page a path (or its /data/ path) belongs to. */
  const route = (url: URL): { isData: boolean; found: { page: Page; params: string[] } | undefined } => {
    const isData = url.pathname.startsWith('/data/') || url.pathname === '/data';
    const found = findPage(isData ? url.pathname.slice('/data'.length) || '/' : url.pathname);
    return { isData, found: found && (!isData || found.page.data) ? found : undefined };
  };

  const runPage = async (req: IncomingMessage, res: ServerResponse, url: URL, session: Session, head: boolean, requestId: string, isData: boolean, found: { page: Page; params: string[] }): Promise<void> => {
    const { page, params } = found;
    const ctx = contextFor(req, url, session, params, requestId);
    if (req.method === 'POST') {
      const form = parseForm(req.headers['content-type'], await readBody(req, page.maxBody ?? DEFAULT_MAX_BODY));
      if (!csrfOk(req, secure, session.csrf, form.get('_csrf'))) {
        return errorPage(res, 403, 'Refused', 'This form expired or came from another site: reload the page and try again.', session, false);
      }
      await runAction(res, ctx, page, form, (req.headers.accept ?? '').includes('application/json'));
      return;
    }
    if (isData) {
      try {
        return sendJson(res, 200, await page.data!(ctx), head);
      } catch (err) {
        if (isUnauthenticated(err)) return sendJson(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'signed out' } }, head);
        const message = apiErrorMessage(err);
        if (message) return sendJson(res, 502, { error: { code: (err as { status: string }).status, message } }, head);
        throw err;
      }
    }
    let view;
    try {
      view = await page.render(ctx);
    } catch (err) {
      if (isUnauthenticated(err)) return signOut(res, session, `/login?next=${encodeURIComponent(url.pathname + url.search)}`);
      const message = apiErrorMessage(err);
      if (!message) throw err;
      ctx.log.info({ err }, 'the API refused a page read');
      return errorPage(res, 502, page.nav, message, session, head);
    }
    const flash = session.flash;
    session.flash = undefined;
    sendHtml(res, view.status ?? 200, layout({ title: view.title, body: view.body, session, current: page.path, nav: pages, flash, charts: view.charts }).value, head);
  };

  /**
   * Runs a page action, then redirects back with the flash (POST-redirect-GET), or, when the browser
   * script asked for JSON (the invoke form), answers the flash as JSON: `{ ok, flash }`.
   */
  const runAction = async (res: ServerResponse, ctx: PageContext, page: Page, form: FormData, json: boolean): Promise<void> => {
    const back = ctx.url.pathname + ctx.url.search;
    const done = (flash: Flash | undefined, location: string): void => {
      if (json) return sendJson(res, 200, { ok: flash?.kind !== 'error', flash: flash ?? null });
      if (flash) ctx.session.flash = flash;
      redirect(res, location);
    };
    const name = form.get('_action') ?? '';
    const action = Object.hasOwn(page.actions ?? {}, name) ? page.actions![name] : undefined;
    if (!action) return done({ kind: 'error', message: `This page has no action '${name}'.` }, back);
    try {
      const result = await action(ctx, form);
      done(result.flash, safeNext(result.redirect) ?? back);
    } catch (err) {
      if (isUnauthenticated(err)) {
        if (json) return sendJson(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'signed out' } });
        return signOut(res, ctx.session);
      }
      const message = apiErrorMessage(err);
      if (message) {
        ctx.log.info({ action: name, status: (err as { status: string }).status }, 'the API refused an action');
        return done({ kind: 'error', message }, back);
      }
      if (err instanceof UserError) return done({ kind: 'error', message: err.message }, back);
      throw err;
    }
  };

  return {
    sessions,
    async handle(req, res) {
      const requestId = errorId();
      const head = req.method === 'HEAD';
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://web-admin.invalid');
      } catch {
        return errorPage(res, 400, 'Bad request', 'That is not a URL.', undefined, head);
      }
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      let session: Session | undefined;
      try {
        if (url.pathname.startsWith('/assets/')) {
          const asset = ASSETS.get(url.pathname);
          if (!asset || method !== 'GET') return sendText(res, 404, 'text/plain; charset=utf-8', 'not found', {}, head);
          return serveAsset(res, asset, head);
        }
        if (method !== 'GET' && method !== 'POST') {
          res.setHeader('allow', 'GET, HEAD, POST');
          return sendText(res, 405, 'text/plain; charset=utf-8', 'method not allowed', {}, head);
        }
        session = sessionOf(req);
        if (url.pathname === '/login') {
          if (method === 'POST') return await loginPost(req, res, url);
          if (session) return redirect(res, safeNext(url.searchParams.get('next')) ?? '/');
          return loginGet(req, res, url, head);
        }
        if (url.pathname === '/logout') {
          if (method !== 'POST') return redirect(res, '/');
          return await logoutPost(req, res, session);
        }
        const { isData, found } = route(url);
        if (!found) {
          if (isData) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no such data: ${url.pathname}` } }, head);
          return errorPage(res, 404, 'Not found', `There is no page ${url.pathname}.`, session, head);
        }
        if (!session) {
          if (isData || method === 'POST') return sendJson(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'sign in at /login' } }, head);
          return redirect(res, `/login${url.pathname === '/' ? '' : `?next=${encodeURIComponent(url.pathname + url.search)}`}`);
        }
        await runPage(req, res, url, session, head, requestId, isData, found);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          if (!res.headersSent) errorPage(res, 413, 'Too large', err.message, session, false);
          return;
        }
        log.error({ err, errorId: requestId, path: url.pathname, user: session?.username }, 'web admin request failed');
        if (res.headersSent) {
          res.destroy();
          return;
        }
        errorPage(res, 500, 'Something went wrong', `The request failed (error id ${requestId}). The control plane's log has the details under that id.`, session, head);
      }
    },
    close() {
      clearInterval(sweep);
      for (const client of clients.values()) client.close();
      clients.clear();
      anonymous?.close();
    },
  };
}

/** A redirect target only within this site: a path starting with one `/`. */
export function safeNext(next: string | null | undefined): string | undefined {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return undefined;
  return next;
}
