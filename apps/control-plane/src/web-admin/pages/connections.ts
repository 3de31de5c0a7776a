import type { Connection, ConnectionSpec, PutConnectionRequest, SqlConnection } from '@laneway/proto';
import { actionButton, form, pathOf, table } from '../forms';
import { badge, time } from '../format';
import { html, type HtmlValue } from '../html';
import type { Page, PageContext } from '../page';
import { UserError } from '../web-admin';
import { applied, chooseCluster, clusterField, withCluster } from './cluster-select';

type Kind = 'postgres' | 'mysql' | 'rest' | 'redis' | 'amqp';
const KINDS: Record<Kind, string> = { postgres: 'PostgreSQL', mysql: 'MySQL', rest: 'REST', redis: 'Redis', amqp: 'AMQP' };
type Form = { get(name: string): string | undefined };

function kindOf(spec: ConnectionSpec | undefined): Kind {
  return spec?.postgres ? 'postgres' : spec?.mysql ? 'mysql' : spec?.rest ? 'rest' : spec?.redis ? 'redis' : 'amqp';
}

const set = (yes: boolean): HtmlValue => (yes ? badge('good', 'set') : badge('info', 'not set'));

/** Where it points, with `set`/`not set` for its secrets (the API never answers them). */
function summary(spec: ConnectionSpec | undefined): HtmlValue {
  const sql = spec?.postgres ?? spec?.mysql;
  if (sql) return html`<span class="mono">${sql.url || `${sql.user}@${sql.host}:${sql.port}/${sql.database}`}</span>, password ${set(sql.passwordSet)}`;
  if (spec?.rest) {
    const r = spec.rest;
    const auth = r.basic ? html`basic ${set(r.basic.passwordSet)}` : r.bearer ? html`bearer ${set(r.bearer.tokenSet)}` : r.apiKey ? html`API key ${set(r.apiKey.keySet)}` : 'no auth';
    return html`<span class="mono">${r.baseUrl}</span>, ${auth}`;
  }
  const other = spec?.redis ?? spec?.amqp;
  if (other) return html`<span class="mono">${other.url}</span>, password ${set(other.passwordSet)}`;
  return '';
}

function input(id: string, label: HtmlValue, name: string, value: string | number, extra: HtmlValue = ''): HtmlValue {
  return html`<label for="${id}">${label}</label><input type="text" id="${id}" name="${name}" value="${value}"${extra}>`;
}

function secret(id: string, label: string, name: string, editing: boolean): HtmlValue {
  return html`<label for="${id}">${label}${editing ? html` <span class="hint">(empty: keep the stored one)</span>` : ''}</label><input type="password" id="${id}" name="${name}" autocomplete="new-password">`;
}

/** The fields of one kind; secret inputs always start empty. */
function fields(kind: Kind, spec: ConnectionSpec | undefined): HtmlValue {
  const editing = !!spec;
  if (kind === 'postgres' || kind === 'mysql') {
    const s: Partial<SqlConnection> = spec?.postgres ?? spec?.mysql ?? {};
    return html`${input('cn-url', html`URL <span class="hint">(or the fields below)</span>`, 'url', s.url ?? '')}
${input('cn-host', 'Host', 'host', s.host ?? '')}${input('cn-port', 'Port', 'port', s.port || '', html` inputmode="numeric"`)}
${input('cn-db', 'Database', 'database', s.database ?? '')}${input('cn-user', 'User', 'user', s.user ?? '')}${secret('cn-password', 'Password', 'password', editing)}
${input('cn-tls', 'TLS mode (disable, require, verify-full)', 'tls_mode', s.tlsMode ?? '')}${input('cn-pool', 'Pool size (0: default)', 'pool_size', s.poolSize ?? 0, html` inputmode="numeric"`)}`;
  }
  if (kind === 'rest') {
    const r = spec?.rest;
    const auth = r?.basic ? 'basic' : r?.bearer ? 'bearer' : r?.apiKey ? 'api_key' : 'none';
    return html`${input('cn-base', 'Base URL', 'base_url', r?.baseUrl ?? '', html` required`)}
${input('cn-timeout', 'Timeout (ms, 0: 10 s)', 'timeout_ms', r?.timeoutMs ?? 0, html` inputmode="numeric"`)}${input('cn-retries', 'Retries', 'retries', r?.retries ?? 0, html` inputmode="numeric"`)}
<label for="cn-auth">Authentication</label><select id="cn-auth" name="auth">${['none', 'basic', 'bearer', 'api_key'].map((a) => html`<option${a === auth ? html` selected` : ''}>${a}</option>`)}</select>
${input('cn-auth-user', html`Username or API key header <span class="hint">(basic, api_key)</span>`, 'auth_name', r?.basic?.username ?? r?.apiKey?.header ?? '')}
${secret('cn-auth-secret', 'Password, token or key', 'auth_secret', editing)}`;
  }
  const o = spec?.redis ?? spec?.amqp;
  return html`${input('cn-url', 'URL', 'url', o?.url ?? '', html` required`)}${secret('cn-password', 'Password', 'password', editing)}
${kind === 'redis' ? input('cn-prefix', 'Key prefix', 'key_prefix', spec?.redis?.keyPrefix ?? '') : html`<label class="check"><input type="checkbox" name="confirm" value="1"${spec?.amqp?.confirm ? html` checked` : ''}> Publisher confirms</label>`}`;
}

function uint(f: Form, name: string): number {
  const text = (f.get(name) ?? '').trim();
  if (text === '') return 0;
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new UserError(`${name} must be a whole number of 0 or more, got '${text}'.`);
  return Number(text);
}

/**
 * The spec from the form. On an edit, `before` (the stored spec, as the API answers it: no secrets)
 * keeps what the form has no field for (CA certificate, REST headers, SQL timeouts).
 */
function specOf(f: Form, before?: ConnectionSpec): ConnectionSpec {
  const v = (n: string): string => (f.get(n) ?? '').trim();
  const kind = f.get('kind') ?? '';
  if (kind === 'postgres' || kind === 'mysql') {
    const sql: SqlConnection = { ...(before?.postgres ?? before?.mysql ?? { caPem: '', statementTimeoutMs: 0, connectTimeoutMs: 0 }), url: v('url'), host: v('host'), port: uint(f, 'port'), database: v('database'), user: v('user'), password: f.get('password') ?? '', passwordSet: false, tlsMode: v('tls_mode'), poolSize: uint(f, 'pool_size') };
    return kind === 'postgres' ? { postgres: sql } : { mysql: sql };
  }
  if (kind === 'rest') {
    const auth = v('auth');
    const secretValue = f.get('auth_secret') ?? '';
    return {
      rest: {
        baseUrl: v('base_url'),
        headers: before?.rest?.headers ?? {},
        timeoutMs: uint(f, 'timeout_ms'),
        retries: uint(f, 'retries'),
        caPem: before?.rest?.caPem ?? '',
        ...(auth === 'basic' ? { basic: { username: v('auth_name'), password: secretValue, passwordSet: false } } : {}),
        ...(auth === 'bearer' ? { bearer: { token: secretValue, tokenSet: false } } : {}),
        ...(auth === 'api_key' ? { apiKey: { header: v('auth_name'), key: secretValue, keySet: false } } : {}),
      },
    };
  }
  if (kind === 'redis') return { redis: { url: v('url'), password: f.get('password') ?? '', passwordSet: false, keyPrefix: v('key_prefix'), caPem: before?.redis?.caPem ?? '' } };
  if (kind === 'amqp') return { amqp: { url: v('url'), password: f.get('password') ?? '', passwordSet: false, confirm: f.get('confirm') === '1', caPem: before?.amqp?.caPem ?? '' } };
  throw new UserError(`kind '${kind}' is not one of ${Object.keys(KINDS).join(', ')}.`);
}

function put(ctx: PageContext, f: Form, before?: ConnectionSpec): PutConnectionRequest {
  const name = (f.get('name') ?? '').trim();
  if (!name) throw new UserError('name is empty: give the connection a name.');
  return { cluster: clusterField(ctx, f), name, spec: specOf(f, before), waitFor: 0, waitTimeoutMs: 0 };
}

function testButton(ctx: PageContext, cluster: string, c: Connection, url?: string): HtmlValue {
  return actionButton(ctx, { action: 'test', text: `Test ${c.name}`, least: 'operator', className: 'secondary', fields: { cluster, name: c.name }, ...(url ? { url } : {}) });
}

async function list(ctx: PageContext) {
  const { cluster, picker } = await chooseCluster(ctx);
  if (!cluster) return { title: 'Connections', body: html`<p class="empty">No clusters yet.</p>` };
  const { connections } = await ctx.api.listConnections(cluster);
  const rows = connections.map(
    (c) => html`<tr><th scope="row"><a href="${withCluster(pathOf('/connections', c.name), cluster)}">${c.name}</a></th><td>${KINDS[kindOf(c.spec)]}</td><td>${summary(c.spec)}</td>
<td>${c.usedBy.join(', ') || '—'}</td><td>${time(c.updatedAt)}</td>
<td>${testButton(ctx, cluster, c)}${actionButton(ctx, { action: 'delete', text: `Delete ${c.name}`, least: 'admin', danger: true, fields: { cluster, name: c.name }, confirm: `Delete the connection ${c.name}?` })}</td></tr>`,
  );
  const asked = ctx.url.searchParams.get('kind') ?? 'postgres';
  const chosen: Kind = Object.hasOwn(KINDS, asked) ? (asked as Kind) : 'postgres';
  return {
    title: 'Connections',
    body: html`${picker}${table(`Connections of ${cluster}`, ['Connection', 'Kind', 'Target', 'Used by', 'Updated', 'Actions'], rows, 'No connections yet.')}
${ctx.can('admin') ? html`<h2>New connection</h2>
<p>Kind: ${(Object.keys(KINDS) as Kind[]).map((k) => (k === chosen ? html`<strong>${KINDS[k]}</strong> ` : html`<a href="${`/connections?cluster=${encodeURIComponent(cluster)}&kind=${k}`}">${KINDS[k]}</a> `))}</p>
${form(ctx, { action: 'create', fields: { cluster, kind: chosen }, label: 'New connection' }, html`<fieldset><legend>${KINDS[chosen]} connection</legend>
<label for="cn-name">Name</label><input type="text" id="cn-name" name="name" required>${fields(chosen, undefined)}<p><button type="submit">Create connection</button></p></fieldset>`)}` : ''}`,
  };
}

async function detail(ctx: PageContext, name: string) {
  const { cluster, picker } = await chooseCluster(ctx);
  if (!cluster) return { title: 'Connections', body: html`<p class="empty">No clusters yet.</p>` };
  const c = await ctx.api.getConnection(cluster, name);
  const kind = kindOf(c.spec);
  return {
    title: `Connection ${c.name}`,
    body: html`${picker}<p><a href="${withCluster('/connections', cluster)}">All connections</a></p>
<p>${KINDS[kind]}: ${summary(c.spec)} · used by ${c.usedBy.join(', ') || 'no service'} · revision ${c.revision}, ${time(c.updatedAt)}</p>
${testButton(ctx, cluster, c)}
${ctx.can('admin') ? html`<h2>Edit</h2>${form(ctx, { action: 'update', fields: { cluster, kind, name: c.name }, label: 'Edit the connection' }, html`<fieldset><legend>${KINDS[kind]} connection ${c.name}</legend>${fields(kind, c.spec)}<p><button type="submit">Save</button></p></fieldset>`)}
${actionButton(ctx, { action: 'delete', text: `Delete ${c.name}`, least: 'admin', danger: true, fields: { cluster, name: c.name }, confirm: `Delete the connection ${c.name}?`, url: withCluster('/connections', cluster) })}` : ''}`,
  };
}

export const connectionsPage: Page = {
  path: '/connections',
  nav: 'Connections',
  render(ctx) {
    return ctx.params[0] ? detail(ctx, ctx.params[0]) : list(ctx);
  },
  actions: {
    async create(ctx, f) {
      const r = await ctx.api.createConnection(put(ctx, f));
      return { redirect: withCluster('/connections', clusterField(ctx, f)), flash: { kind: 'ok', message: `Created the connection ${r.connection?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async update(ctx, f) {
      const before = await ctx.api.getConnection(clusterField(ctx, f), f.get('name') ?? '');
      const r = await ctx.api.updateConnection(put(ctx, f, before.spec));
      return { flash: { kind: 'ok', message: `Saved the connection ${r.connection?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async delete(ctx, f) {
      const cluster = clusterField(ctx, f);
      const r = await ctx.api.deleteConnection({ cluster, name: f.get('name') ?? '', waitFor: 0, waitTimeoutMs: 0 });
      return { redirect: withCluster('/connections', cluster), flash: { kind: 'ok', message: `Deleted the connection ${f.get('name') ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    /** TestConnection: every connected server opens the connection and answers; each result is shown. */
    async test(ctx, f) {
      const name = f.get('name') ?? '';
      const { servers } = await ctx.api.testConnection({ cluster: clusterField(ctx, f), name, timeoutMs: 0 });
      const failed = servers.filter((s) => !s.ok).length;
      return {
        flash: {
          kind: failed === 0 && servers.length > 0 ? 'ok' : 'error',
          message: `Test of ${name}: ${servers.length - failed} of ${servers.length} servers connected.`,
          detail: servers.map((s) => `${s.server}: ${s.ok ? `ok in ${s.latencyMs} ms` : `failed: ${s.error}`}`).join('\n') || 'No server answered.',
        },
      };
    },
  },
};
