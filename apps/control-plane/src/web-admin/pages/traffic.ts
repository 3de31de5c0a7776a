import type { Traffic } from '@laneway/proto';
import { table } from '../forms';
import { html } from '../html';
import type { Page, PageContext } from '../page';
import { chooseCluster } from './cluster-select';

/** A series value for JSON: NaN (nothing measured) becomes null, a gap in the chart. */
function point(value: number, scale = 1): number | null {
  return Number.isFinite(value) ? Math.round(value * scale * 1000) / 1000 : null;
}

/** The last measured value of a series, as text. */
function last(values: readonly number[], scale: number, unit: string): string {
  for (let i = values.length - 1; i >= 0; i--) if (Number.isFinite(values[i]!)) return `${(values[i]! * scale).toFixed(scale === 1 ? 2 : 1)} ${unit}`;
  return '—';
}

/** What uPlot draws (admin.js `[data-chart]`): requests/s and p99 per route, wait p99 and jobs/s per lane. */
export function trafficCharts(t: Traffic) {
  return {
    charts: [
      { id: 'rps', title: 'Requests per second, by channel route', unit: 'req/s', x: t.times, series: t.routes.map((r) => ({ label: r.route, values: r.requestsPerSecond.map((v) => point(v)) })) },
      { id: 'p99', title: 'p99 latency, by channel route', unit: 'ms', x: t.times, series: t.routes.map((r) => ({ label: r.route, values: r.p99Seconds.map((v) => point(v, 1000)) })) },
      { id: 'wait', title: 'p99 wait in the lane queue, by lane', unit: 'ms', x: t.times, series: t.lanes.map((l) => ({ label: l.lane, values: l.waitP99Seconds.map((v) => point(v, 1000)) })) },
      { id: 'jobs', title: 'Jobs per second, by lane', unit: 'jobs/s', x: t.times, series: t.lanes.map((l) => ({ label: l.lane, values: l.jobsPerSecond.map((v) => point(v)) })) },
    ].filter((c) => c.series.length > 0),
  };
}

async function traffic(ctx: PageContext): Promise<{ cluster: string | undefined; traffic: Traffic | undefined; picker: ReturnType<typeof html> }> {
  const { cluster, picker } = await chooseCluster(ctx);
  return { cluster, picker, traffic: cluster ? await ctx.api.getTraffic(cluster) : undefined };
}

export const trafficPage: Page = {
  path: '/traffic',
  nav: 'Traffic',
  async render(ctx) {
    const { cluster, picker, traffic: t } = await traffic(ctx);
    if (!cluster || !t) return { title: 'Traffic', body: html`<p class="empty">No clusters yet.</p>` };
    const rows = [
      ...t.routes.map((r) => html`<tr><th scope="row">${r.route}</th><td>channel</td><td>${last(r.requestsPerSecond, 1, 'req/s')}</td><td>${last(r.p99Seconds, 1000, 'ms')} (p99)</td></tr>`),
      ...t.lanes.map((l) => html`<tr><th scope="row">${l.lane}</th><td>lane</td><td>${last(l.jobsPerSecond, 1, 'jobs/s')}</td><td>${last(l.waitP99Seconds, 1000, 'ms')} (p99 wait)</td></tr>`),
    ];
    const data = `/data/traffic?cluster=${encodeURIComponent(cluster)}`;
    return {
      title: 'Traffic',
      charts: true,
      body: html`${picker}
<p>Cluster <strong>${cluster}</strong>: the control plane scrapes the ${t.serversScraped} connected servers' <span class="mono">/metrics</span> every 5 s while this page is open, and keeps ten minutes.${
        t.serversFailed.length ? html` <span class="badge bad">no answer from ${t.serversFailed.join(', ')}</span>` : ''
      }</p>
<div class="charts" data-chart="${data}" data-interval="5000"><p class="empty">${t.times.length < 2 ? 'Collecting: the first points appear within 10 seconds.' : 'No traffic measured yet.'}</p></div>
<h2>Latest interval</h2>
${table(`Latest interval of ${cluster}`, ['Route or lane', 'Kind', 'Rate', 'Latency'], rows, 'No requests or jobs measured yet.')}`,
    };
  },
  async data(ctx) {
    const { traffic: t } = await traffic(ctx);
    return t ? trafficCharts(t) : { charts: [] };
  },
};
