import type { ListServersResponse, ServerInfo } from '@laneway/proto';
import { actionButton, table } from '../forms';
import { badge, laneName, time } from '../format';
import { html, toHtml, type SafeHtml } from '../html';
import type { Page, PageContext } from '../page';

interface ClusterView {
  name: string;
  revision: number;
  services: number;
  servers: ServerInfo[];
}

async function load(ctx: PageContext): Promise<ClusterView[]> {
  const { clusters } = await ctx.api.listClusters();
  const lists: ListServersResponse[] = await Promise.all(clusters.map((c) => ctx.api.listServers(c.name)));
  return clusters.map((c, i) => ({
    name: c.name,
    // ListServers' revision is read with the servers: the one their applied revisions compare to.
    revision: Number(lists[i]!.revision || c.revision),
    services: c.serviceCount,
    servers: lists[i]!.servers,
  }));
}

function serverRow(ctx: PageContext, cluster: ClusterView, s: ServerInfo): SafeHtml {
  const applied = Number(s.appliedRevision);
  const converged = applied === cluster.revision;
  const nack = s.lastNack.length > 0;
  const fields = { cluster: cluster.name, server: s.name };
  return html`<tr data-server="${s.name}">
<th scope="row">${s.name}</th>
<td>${s.connected ? badge('good', 'connected') : html`${badge('bad', 'disconnected')}<div class="hint">last seen ${time(s.lastSeen)}</div>`}${nack ? html` ${badge('bad', 'rejected a change')}` : ''}</td>
<td>${applied} / ${cluster.revision} ${converged ? badge('good', 'converged') : badge('warn', 'behind')}</td>
<td>${s.drained ? badge('warn', 'drained') : badge('info', 'serving')}</td>
<td class="mono">${s.httpAddress || '—'}</td>
<td>${s.controlPlaneId ? (s.controlPlaneId === ctx.controlPlaneId ? 'this one' : html`another (<span class="mono">${s.controlPlaneId.slice(0, 8)}</span>)`) : '—'}</td>
<td class="mono">${s.host}${s.pid ? html` (pid ${s.pid})` : ''}</td>
<td>${s.lanes.map(laneName).join(', ') || '—'}</td>
<td>${
    s.drained
      ? actionButton(ctx, { action: 'resume', text: `Resume ${s.name}`, least: 'operator', fields })
      : actionButton(ctx, { action: 'drain', text: `Drain ${s.name}`, least: 'operator', fields, confirm: `Drain ${s.name}? It stops taking new work.` })
  }</td>
</tr>${nack ? html`<tr><td colspan="9"><ul>${s.lastNack.map((e) => html`<li>${e.service ? html`<strong>${e.service}</strong>: ` : ''}${e.message}</li>`)}</ul></td></tr>` : ''}`;
}

/** The live part of the page: rendered for the page and, every 500 ms, for /data/ (admin.js swaps it in when it changed). */
function clustersHtml(ctx: PageContext, clusters: ClusterView[]): SafeHtml {
  if (clusters.length === 0) return html`<p class="empty">No clusters yet: <span class="mono">laneway cluster create NAME</span>.</p>`;
  return html`${clusters.map((c) => {
    const up = c.servers.filter((s) => s.connected).length;
    const converged = c.servers.filter((s) => Number(s.appliedRevision) === c.revision).length;
    return html`<section aria-labelledby="cluster-${c.name}">
<h2 id="cluster-${c.name}">Cluster ${c.name}</h2>
<p>Revision ${c.revision} · ${c.services} services · ${up} of ${c.servers.length} servers connected · ${converged} of ${c.servers.length} converged</p>
${table(`Servers of ${c.name}`, ['Server', 'Health', 'Applied / cluster revision', 'State', 'Channel address', 'Control plane', 'Host', 'Lanes', 'Actions'], c.servers.map((s) => serverRow(ctx, c, s)), 'No servers have joined this cluster.')}
</section>`;
  })}`;
}

export const overviewPage: Page = {
  path: '/',
  nav: 'Overview',
  async render(ctx) {
    const clusters = await load(ctx);
    return { title: 'Overview', body: html`<div id="clusters" data-live="/data/" data-interval="400">${clustersHtml(ctx, clusters)}</div>` };
  },
  async data(ctx) {
    return { html: toHtml(clustersHtml(ctx, await load(ctx))) };
  },
  actions: {
    async drain(ctx, form) {
      const server = await ctx.api.drainServer(form.get('cluster') ?? '', form.get('server') ?? '');
      return { flash: { kind: 'ok', message: `Drained ${server.name}.` } };
    },
    async resume(ctx, form) {
      const server = await ctx.api.resumeServer(form.get('cluster') ?? '', form.get('server') ?? '');
      return { flash: { kind: 'ok', message: `Resumed ${server.name}.` } };
    },
  },
};
