import { table } from '../forms';
import { laneName, time } from '../format';
import { html } from '../html';
import type { Page } from '../page';

export const servicesPage: Page = {
  path: '/services',
  nav: 'Services',
  async render(ctx) {
    const { clusters } = await ctx.api.listClusters();
    const cluster = ctx.url.searchParams.get('cluster') || clusters[0]?.name;
    if (!cluster) return { title: 'Services', body: html`<p class="empty">No clusters yet.</p>` };
    const { services } = await ctx.api.listServices(cluster);
    return {
      title: 'Services',
      body: table(
        `Services of ${cluster}`,
        ['Service', 'Version', 'Lane', 'Updated'],
        services.map((s) => html`<tr><th scope="row">${s.name}</th><td class="mono">${s.version.slice(0, 12)}</td><td>${laneName(s.lane)}</td><td>${time(s.updatedAt)}</td></tr>`),
        'No services deployed.',
      ),
    };
  },
};
