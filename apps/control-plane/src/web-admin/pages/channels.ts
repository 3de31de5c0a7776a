import type { Channel } from '@laneway/proto';
import { actionButton, form, pathOf, table } from '../forms';
import { badge, time } from '../format';
import { html, type HtmlValue } from '../html';
import type { Page, PageContext } from '../page';
import { UserError } from '../web-admin';
import { applied, chooseCluster, clusterField, withCluster } from './cluster-select';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** How long "try it" waits for the channel and how much of its answer it shows. */
const TRY_TIMEOUT_MS = 10_000;
const TRY_MAX_SHOWN = 16 * 1024;

function uint(form: { get(name: string): string | undefined }, name: string): number {
  const text = (form.get(name) ?? '').trim();
  if (text === '') return 0;
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new UserError(`${name} must be a whole number of 0 or more, got '${text}'.`);
  return Number(text);
}

function channelFields(ctx: PageContext, c: Partial<Channel>, editing: boolean): HtmlValue {
  const id = (n: string): string => `ch-${n}`;
  return html`${editing ? html`<input type="hidden" name="name" value="${c.name}">` : html`<label for="${id('name')}">Name</label><input type="text" id="${id('name')}" name="name" required>`}
<label for="${id('method')}">Method</label><select id="${id('method')}" name="method">${METHODS.map((m) => html`<option${m === (c.method ?? 'POST') ? html` selected` : ''}>${m}</option>`)}</select>
<label for="${id('path')}">Path <span class="hint">(segments <span class="mono">:name</span> are parameters)</span></label><input type="text" id="${id('path')}" name="path" value="${c.path ?? ''}" placeholder="/orders/:id" required>
<label for="${id('service')}">Service</label><input type="text" id="${id('service')}" name="service" value="${c.service ?? ''}" required>
<label for="${id('security')}">Security definition <span class="hint">(empty: public)</span></label><input type="text" id="${id('security')}" name="security" value="${c.security ?? ''}">
<label for="${id('timeout')}">Timeout (ms, 0: 30 s)</label><input type="number" min="0" id="${id('timeout')}" name="timeout_ms" value="${c.timeoutMs ?? 0}">
<label for="${id('rate')}">Rate limit (requests/s per caller, 0: none)</label><input type="number" min="0" id="${id('rate')}" name="rate_limit_per_second" value="${c.rateLimitPerSecond ?? 0}">
<label class="check"><input type="checkbox" name="async" value="1"${c.async ? html` checked` : ''}> Async (answer 202 with a job id)</label>`;
}

function request(ctx: PageContext, f: { get(name: string): string | undefined }) {
  const name = (f.get('name') ?? '').trim();
  if (!name) throw new UserError('name is empty: give the channel a name.');
  return {
    cluster: clusterField(ctx, f),
    name,
    method: (f.get('method') ?? '').trim(),
    path: (f.get('path') ?? '').trim(),
    service: (f.get('service') ?? '').trim(),
    security: (f.get('security') ?? '').trim(),
    timeoutMs: uint(f, 'timeout_ms'),
    rateLimitPerSecond: uint(f, 'rate_limit_per_second'),
    async: f.get('async') === '1',
    waitFor: 0,
    waitTimeoutMs: 0,
  };
}

async function list(ctx: PageContext) {
  const { cluster, picker } = await chooseCluster(ctx);
  if (!cluster) return { title: 'Channels', body: html`<p class="empty">No clusters yet.</p>` };
  const { channels } = await ctx.api.listChannels(cluster);
  const rows = channels.map(
    (c) => html`<tr><th scope="row"><a href="${withCluster(pathOf('/channels', c.name), cluster)}">${c.name}</a></th>
<td class="mono">${c.method} ${c.path}</td><td>${c.service}</td><td>${c.security || badge('info', 'public')}</td>
<td>${c.async ? 'async' : 'sync'}${c.timeoutMs ? html`, ${c.timeoutMs} ms` : ''}${c.rateLimitPerSecond ? html`, ${c.rateLimitPerSecond}/s` : ''}</td><td>${time(c.updatedAt)}</td>
<td>${actionButton(ctx, { action: 'delete', text: `Delete ${c.name}`, least: 'admin', danger: true, fields: { cluster, name: c.name }, confirm: `Delete the channel ${c.name}? Its URL stops answering.` })}</td></tr>`,
  );
  return {
    title: 'Channels',
    body: html`${picker}${table(`Channels of ${cluster}`, ['Channel', 'Route', 'Service', 'Security', 'Mode', 'Updated', 'Actions'], rows, 'No channels yet.')}
${ctx.can('admin') ? html`<h2 id="new-channel">New channel</h2>${form(ctx, { action: 'create', fields: { cluster }, label: 'New channel' }, html`<fieldset><legend>Channel of ${cluster}</legend>${channelFields(ctx, {}, false)}<p><button type="submit">Create channel</button></p></fieldset>`)}` : ''}`,
  };
}

async function detail(ctx: PageContext, name: string) {
  const { cluster, picker } = await chooseCluster(ctx);
  if (!cluster) return { title: 'Channels', body: html`<p class="empty">No clusters yet.</p>` };
  const c = await ctx.api.describeChannel(cluster, name);
  return {
    title: `Channel ${c.name}`,
    body: html`${picker}<p><a href="${withCluster('/channels', cluster)}">All channels</a></p>
<dl class="facts"><dt>Route</dt><dd class="mono">${c.method} ${c.path}</dd><dt>Service</dt><dd>${c.service}</dd><dt>Security</dt><dd>${c.security || 'public'}</dd>
<dt>Mode</dt><dd>${c.async ? 'async (202 with a job id)' : 'sync'}</dd><dt>Timeout</dt><dd>${c.timeoutMs ? `${c.timeoutMs} ms` : '30 s (default)'}</dd>
<dt>Rate limit</dt><dd>${c.rateLimitPerSecond ? `${c.rateLimitPerSecond}/s per caller` : 'none'}</dd><dt>Changed</dt><dd>revision ${c.revision}, ${time(c.updatedAt)}</dd></dl>
${ctx.can('operator') ? html`<h2 id="try">Try it</h2>
<p class="hint">The control plane sends this request to the channel on a serving server of ${cluster} and shows the answer. The channel's own security applies: give the credential yourself (stored secrets are never read back).</p>
${form(ctx, { action: 'try', fields: { cluster, name: c.name }, label: 'Try the channel' }, html`<fieldset><legend>${c.method} request</legend>
<label for="try-path">Path</label><input type="text" id="try-path" name="path" value="${c.path}" required>
<label for="try-header">Header <span class="hint">(optional, e.g. <span class="mono">x-api-key</span> or <span class="mono">authorization</span>)</span></label><input type="text" id="try-header" name="header_name" autocomplete="off">
<label for="try-value">Header value</label><input type="password" id="try-value" name="header_value" autocomplete="off">
${c.method === 'GET' || c.method === 'DELETE' ? '' : html`<label for="try-body">JSON body</label><textarea id="try-body" name="body">{}</textarea>`}
<p><button type="submit">Send</button></p></fieldset>`)}` : ''}
${ctx.can('admin') ? html`<h2 id="edit">Edit</h2>${form(ctx, { action: 'update', fields: { cluster }, label: 'Edit the channel' }, html`<fieldset><legend>Channel ${c.name}</legend>${channelFields(ctx, c, true)}<p><button type="submit">Save</button></p></fieldset>`)}
${actionButton(ctx, { action: 'delete', text: `Delete ${c.name}`, least: 'admin', danger: true, fields: { cluster, name: c.name }, confirm: `Delete the channel ${c.name}? Its URL stops answering.`, url: withCluster('/channels', cluster) })}` : ''}`,
  };
}

/** The path the user typed must be the channel's, parameters filled in (so "try it" reaches nothing but this channel). */
export function checkPath(pattern: string, path: string): void {
  const want = pattern.split('/');
  const got = path.split('?')[0]!.split('/');
  const ok = want.length === got.length && want.every((seg, i) => (seg.startsWith(':') ? (got[i] ?? '') !== '' : seg === got[i]));
  if (!ok || !path.startsWith('/')) throw new UserError(`path '${path}' does not match the channel's path ${pattern}: fill in its :parameters only.`);
}

export const channelsPage: Page = {
  path: '/channels',
  nav: 'Channels',
  render(ctx) {
    return ctx.params[0] ? detail(ctx, ctx.params[0]) : list(ctx);
  },
  actions: {
    async create(ctx, f) {
      const r = await ctx.api.createChannel(request(ctx, f));
      return { redirect: withCluster(pathOf('/channels', r.channel?.name ?? ''), clusterField(ctx, f)), flash: { kind: 'ok', message: `Created the channel ${r.channel?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async update(ctx, f) {
      const r = await ctx.api.updateChannel(request(ctx, f));
      return { flash: { kind: 'ok', message: `Saved the channel ${r.channel?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async delete(ctx, f) {
      const cluster = clusterField(ctx, f);
      const r = await ctx.api.deleteChannel({ cluster, name: f.get('name') ?? '', waitFor: 0, waitTimeoutMs: 0 });
      return { redirect: withCluster('/channels', cluster), flash: { kind: 'ok', message: `Deleted the channel ${f.get('name') ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    /**
     * "Try it": the control plane calls the channel for the user. The page's CSP (`connect-src 'self'`)
     * keeps the browser from calling a server's address itself, and a stored credential is never read
     * back: the user gives it. The call reaches only this channel's route on a server of the cluster
     * (listed through the API with the user's token), where the channel's security decides.
     */
    async try(ctx, f) {
      // No RPC stands behind this call, so the role table cannot refuse it: the least role that may
      // invoke through the API (operator) is checked here, as the page shows the form.
      if (!ctx.can('operator')) throw new UserError('PERMISSION_DENIED: trying a channel from the web admin needs the operator role (as Invoke does).');
      const cluster = clusterField(ctx, f);
      const channel = await ctx.api.describeChannel(cluster, f.get('name') ?? '');
      const path = (f.get('path') ?? '').trim();
      checkPath(channel.path, path);
      const { servers } = await ctx.api.listServers(cluster);
      const server = servers.find((s) => s.connected && !s.drained && s.httpAddress);
      if (!server) throw new UserError(`No serving server of ${cluster} has a channel address (connected, not drained, LANEWAY_HTTP_ADDR not off).`);
      const headers: Record<string, string> = {};
      const headerName = (f.get('header_name') ?? '').trim();
      if (headerName) {
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(headerName)) throw new UserError(`header '${headerName}' is not a valid HTTP header name.`);
        headers[headerName] = f.get('header_value') ?? '';
      }
      const hasBody = channel.method !== 'GET' && channel.method !== 'DELETE';
      const body = hasBody ? (f.get('body') ?? '').trim() || '{}' : undefined;
      if (body !== undefined) {
        try {
          JSON.parse(body);
        } catch (err) {
          throw new UserError(`body is not valid JSON: ${(err as Error).message}`);
        }
        headers['content-type'] = 'application/json';
      }
      const url = `http://${server.httpAddress}${path}`;
      const started = Date.now();
      let answer: Response;
      try {
        answer = await fetch(url, { method: channel.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(TRY_TIMEOUT_MS) });
      } catch (err) {
        return { flash: { kind: 'error', message: `${channel.method} ${path} on ${server.name} (${server.httpAddress}) failed: ${(err as Error).message}` } };
      }
      const text = await answer.text();
      const shown = text.length > TRY_MAX_SHOWN ? `${text.slice(0, TRY_MAX_SHOWN)}\n… (${text.length} characters in all)` : text;
      return {
        flash: {
          kind: answer.ok ? 'ok' : 'error',
          message: `${channel.method} ${path} on ${server.name} (${server.httpAddress}): ${answer.status} ${answer.statusText} in ${Date.now() - started} ms`,
          detail: shown,
        },
      };
    },
  },
};
