import { pager, table } from '../forms';
import { badge, time } from '../format';
import { html } from '../html';
import type { Page } from '../page';
import { UserError } from '../web-admin';

const PAGE_SIZE = 50;

/** `since` as the API wants it (ISO-8601): a datetime-local value is taken as UTC. */
export function sinceOf(text: string): string {
  if (!text) return '';
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text) ? `${text}Z` : text;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new UserError(`since '${text}' is not a time: use YYYY-MM-DDTHH:MM (UTC).`);
  return new Date(t).toISOString();
}

export const auditPage: Page = {
  path: '/audit',
  nav: 'Audit',
  async render(ctx) {
    const { clusters } = await ctx.api.listClusters();
    const cluster = ctx.url.searchParams.get('cluster') ?? '';
    const sinceText = ctx.url.searchParams.get('since') ?? '';
    let since: string;
    try {
      since = sinceOf(sinceText);
    } catch (err) {
      return { title: 'Audit log', status: 400, body: html`<p class="error">${(err as Error).message}</p><p><a href="/audit">The whole log</a></p>` };
    }
    const { records, nextPageToken } = await ctx.api.listAuditRecords({ cluster, since, pageSize: PAGE_SIZE, pageToken: ctx.url.searchParams.get('page_token') ?? '' });
    const rows = records.map(
      (r) => html`<tr><td>${time(r.at)}</td><th scope="row">${r.actor}</th><td class="mono">${r.rpc.replace(/^\/laneway\.v1\./, '')}</td><td>${r.cluster}</td>
<td>${r.kind}${r.name ? html` <strong>${r.name}</strong>` : ''}</td><td>${r.revisionAfter && r.revisionAfter !== r.revisionBefore ? `${r.revisionBefore} → ${r.revisionAfter}` : ''}</td>
<td>${r.outcome === 'OK' ? badge('good', r.outcome) : badge('bad', r.outcome)}${r.message ? html`<div class="hint">${r.message}</div>` : ''}</td><td class="mono">${r.peer}</td></tr>`,
    );
    return {
      title: 'Audit log',
      body: html`<form method="get" class="picker" action="/audit"><label for="audit-cluster">Cluster</label>
<select id="audit-cluster" name="cluster"><option value="">every cluster</option>${clusters.map((c) => html`<option${c.name === cluster ? html` selected` : ''}>${c.name}</option>`)}</select>
<label for="audit-since">Since (UTC)</label><input type="datetime-local" id="audit-since" name="since" value="${sinceText}">
<button type="submit" class="secondary">Filter</button></form>
${table('Audit records, newest first', ['When', 'Who', 'Call', 'Cluster', 'What', 'Revision', 'Outcome', 'From'], rows, 'No records.')}
${pager(ctx, nextPageToken)}`,
    };
  },
};
