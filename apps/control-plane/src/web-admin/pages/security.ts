import type { PutSecurityDefinitionRequest, SecurityDefinition } from '@laneway/proto';
import { actionButton, form, pathOf, table } from '../forms';
import { badge, time } from '../format';
import { html, type HtmlValue } from '../html';
import type { Page, PageContext } from '../page';
import { UserError } from '../web-admin';
import { applied, chooseCluster, clusterField, withCluster } from './cluster-select';

type Kind = 'api_key' | 'basic_auth' | 'jwt';
const KINDS: Record<Kind, string> = { api_key: 'API key', basic_auth: 'HTTP basic', jwt: 'JWT' };

function kindOf(d: SecurityDefinition): Kind {
  return d.apiKey ? 'api_key' : d.basicAuth ? 'basic_auth' : 'jwt';
}

/** What a definition checks, with `set`/`not set` for its secrets (the API never answers them). */
function summary(d: SecurityDefinition): HtmlValue {
  const set = (yes: boolean): HtmlValue => (yes ? badge('good', 'set') : badge('warn', 'not set'));
  if (d.apiKey) return html`header <span class="mono">${d.apiKey.header}</span>, key ${set(d.apiKey.keySet)}`;
  if (d.basicAuth) return html`user <span class="mono">${d.basicAuth.username}</span>, password ${set(d.basicAuth.passwordSet)}`;
  if (d.jwt) return html`${d.jwt.publicKeyPem ? 'public key' : html`HS256 secret ${set(d.jwt.secretSet)}`}${d.jwt.issuer ? html`, issuer ${d.jwt.issuer}` : ''}${d.jwt.audience ? html`, audience ${d.jwt.audience}` : ''}`;
  return '';
}

/** The fields of one kind; secret inputs start empty (left empty on an edit, the stored secret stays). */
function fields(kind: Kind, d: SecurityDefinition | undefined): HtmlValue {
  const keep = d ? html` <span class="hint">(empty: keep the stored one)</span>` : '';
  if (kind === 'api_key')
    return html`<label for="sec-header">Header</label><input type="text" id="sec-header" name="header" value="${d?.apiKey?.header ?? 'x-api-key'}" required>
<label for="sec-key">Key${keep}</label><input type="password" id="sec-key" name="key" autocomplete="new-password"${d ? '' : html` required`}>`;
  if (kind === 'basic_auth')
    return html`<label for="sec-user">Username</label><input type="text" id="sec-user" name="username" value="${d?.basicAuth?.username ?? ''}" required>
<label for="sec-password">Password${keep}</label><input type="password" id="sec-password" name="password" autocomplete="new-password"${d ? '' : html` required`}>`;
  return html`<label for="sec-secret">HS256 secret${keep}</label><input type="password" id="sec-secret" name="hs256_secret" autocomplete="new-password">
<label for="sec-pem">Or a public key (PEM)</label><textarea id="sec-pem" name="public_key_pem">${d?.jwt?.publicKeyPem ?? ''}</textarea>
<label for="sec-iss">Issuer <span class="hint">(optional)</span></label><input type="text" id="sec-iss" name="issuer" value="${d?.jwt?.issuer ?? ''}">
<label for="sec-aud">Audience <span class="hint">(optional)</span></label><input type="text" id="sec-aud" name="audience" value="${d?.jwt?.audience ?? ''}">`;
}

function put(ctx: PageContext, f: { get(name: string): string | undefined }): PutSecurityDefinitionRequest {
  const name = (f.get('name') ?? '').trim();
  if (!name) throw new UserError('name is empty: give the security definition a name.');
  const kind = f.get('kind') ?? '';
  const v = (n: string): string => (f.get(n) ?? '').trim();
  const base = { cluster: clusterField(ctx, f), name, waitFor: 0, waitTimeoutMs: 0 };
  if (kind === 'api_key') return { ...base, apiKey: { header: v('header'), key: f.get('key') ?? '', keySet: false } };
  if (kind === 'basic_auth') return { ...base, basicAuth: { username: v('username'), password: f.get('password') ?? '', passwordSet: false } };
  if (kind === 'jwt') return { ...base, jwt: { hs256Secret: f.get('hs256_secret') ?? '', publicKeyPem: v('public_key_pem'), issuer: v('issuer'), audience: v('audience'), secretSet: false } };
  throw new UserError(`kind '${kind}' is not one of api_key, basic_auth, jwt.`);
}

async function list(ctx: PageContext) {
  const { cluster, picker } = await chooseCluster(ctx);
  if (!cluster) return { title: 'Security definitions', body: html`<p class="empty">No clusters yet.</p>` };
  const { definitions } = await ctx.api.listSecurityDefinitions(cluster);
  const rows = definitions.map(
    (d) => html`<tr><th scope="row"><a href="${withCluster(pathOf('/security', d.name), cluster)}">${d.name}</a></th><td>${KINDS[kindOf(d)]}</td><td>${summary(d)}</td><td>${time(d.updatedAt)}</td>
<td>${actionButton(ctx, { action: 'delete', text: `Delete ${d.name}`, least: 'admin', danger: true, fields: { cluster, name: d.name }, confirm: `Delete the security definition ${d.name}?` })}</td></tr>`,
  );
  const kind = (ctx.url.searchParams.get('kind') ?? 'api_key') as Kind;
  const chosen: Kind = Object.hasOwn(KINDS, kind) ? kind : 'api_key';
  return {
    title: 'Security definitions',
    body: html`${picker}${table(`Security definitions of ${cluster}`, ['Definition', 'Kind', 'Checks', 'Updated', 'Actions'], rows, 'No security definitions yet.')}
${ctx.can('admin') ? html`<h2>New security definition</h2>
<p>Kind: ${(Object.keys(KINDS) as Kind[]).map((k) => (k === chosen ? html`<strong>${KINDS[k]}</strong> ` : html`<a href="${`/security?cluster=${encodeURIComponent(cluster)}&kind=${k}`}">${KINDS[k]}</a> `))}</p>
${form(ctx, { action: 'create', fields: { cluster, kind: chosen }, label: 'New security definition' }, html`<fieldset><legend>${KINDS[chosen]} definition</legend>
<label for="sec-name">Name</label><input type="text" id="sec-name" name="name" required>${fields(chosen, undefined)}<p><button type="submit">Create definition</button></p></fieldset>`)}` : ''}`,
  };
}

async function detail(ctx: PageContext, name: string) {
  const { cluster, picker } = await chooseCluster(ctx);
  if (!cluster) return { title: 'Security definitions', body: html`<p class="empty">No clusters yet.</p>` };
  const d = await ctx.api.getSecurityDefinition(cluster, name);
  const kind = kindOf(d);
  return {
    title: `Security definition ${d.name}`,
    body: html`${picker}<p><a href="${withCluster('/security', cluster)}">All security definitions</a></p>
<p>${KINDS[kind]}: ${summary(d)} · revision ${d.revision}, ${time(d.updatedAt)}</p>
${ctx.can('admin') ? html`<h2>Edit</h2>${form(ctx, { action: 'update', fields: { cluster, kind, name: d.name }, label: 'Edit the security definition' }, html`<fieldset><legend>${KINDS[kind]} definition ${d.name}</legend>${fields(kind, d)}<p><button type="submit">Save</button></p></fieldset>`)}
${actionButton(ctx, { action: 'delete', text: `Delete ${d.name}`, least: 'admin', danger: true, fields: { cluster, name: d.name }, confirm: `Delete the security definition ${d.name}?`, url: withCluster('/security', cluster) })}` : ''}`,
  };
}

export const securityPage: Page = {
  path: '/security',
  nav: 'Security',
  render(ctx) {
    return ctx.params[0] ? detail(ctx, ctx.params[0]) : list(ctx);
  },
  actions: {
    async create(ctx, f) {
      const r = await ctx.api.createSecurityDefinition(put(ctx, f));
      return { redirect: withCluster('/security', clusterField(ctx, f)), flash: { kind: 'ok', message: `Created the security definition ${r.definition?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async update(ctx, f) {
      const r = await ctx.api.updateSecurityDefinition(put(ctx, f));
      return { flash: { kind: 'ok', message: `Saved the security definition ${r.definition?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async delete(ctx, f) {
      const cluster = clusterField(ctx, f);
      const r = await ctx.api.deleteSecurityDefinition({ cluster, name: f.get('name') ?? '', waitFor: 0, waitTimeoutMs: 0 });
      return { redirect: withCluster('/security', cluster), flash: { kind: 'ok', message: `Deleted the security definition ${f.get('name') ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
  },
};
