import { MirrorRole, type MirrorStatus } from '@laneway/proto';
import { actionButton, table } from '../forms';
import { ago, badge, duration, time } from '../format';
import { html, toHtml, type HtmlValue } from '../html';
import type { Page, PageContext } from '../page';
import { chooseCluster, clusterField } from './cluster-select';

const ROLES: Record<number, string> = {
  [MirrorRole.MIRROR_ROLE_STANDALONE]: 'standalone',
  [MirrorRole.MIRROR_ROLE_SOURCE]: 'source',
  [MirrorRole.MIRROR_ROLE_FOLLOWER]: 'follower',
};

function lag(ms: number): string {
  return ms < 1000 ? `${ms} ms` : duration(Math.round(ms / 1000));
}

function status(ctx: PageContext, s: MirrorStatus): HtmlValue {
  const role = ROLES[s.role] ?? 'unknown';
  const follower = s.role === MirrorRole.MIRROR_ROLE_FOLLOWER;
  return html`<dl class="facts">
<dt>Role</dt><dd>${badge(follower ? 'warn' : 'info', role)}${s.handingOver ? html` ${badge('warn', 'handing over')}` : ''}</dd>
<dt>Epoch</dt><dd>${s.epoch}</dd><dt>This site's revision</dt><dd>${s.revision}</dd>
${follower ? html`<dt>Source</dt><dd class="mono">${s.sourceCluster} at ${s.sourceAddress}</dd>
<dt>Link</dt><dd>${s.connected ? badge('good', 'connected') : badge('bad', 'disconnected')}</dd>
<dt>Applied / source revision</dt><dd>${s.appliedSourceRevision} / ${s.sourceRevision}</dd>
<dt>Lag</dt><dd>${lag(s.lagMs)}</dd>` : ''}
<dt>Last error</dt><dd>${s.lastError ? html`<span class="error">${s.lastError}</span>` : 'none'}</dd></dl>
${s.role === MirrorRole.MIRROR_ROLE_SOURCE || s.followers.length
    ? table(
        `Followers of ${s.cluster}`,
        ['Follower', 'Cluster', 'Link', 'Applied revision', 'Last seen'],
        s.followers.map((f) => html`<tr><th scope="row" class="mono">${f.followerId}</th><td>${f.cluster}</td><td>${f.connected ? badge('good', 'connected') : badge('bad', 'disconnected')}</td><td>${f.appliedRevision} / ${s.revision}</td><td>${time(f.lastSeen)} <span class="hint">(${ago(f.lastSeen)})</span></td></tr>`),
        'No follower has connected.',
      )
    : html`<p class="hint">${role === 'standalone' ? html`Not mirrored. Another site follows this one with <span class="mono">laneway mirror token</span> here and <span class="mono">laneway mirror follow</span> there.` : ''}</p>`}
${s.discarded.length ? html`<h2>Changes discarded when this site stepped down</h2><ul>${s.discarded.map((d) => html`<li>${d.kind} ${d.name} (revision ${d.revision})</li>`)}</ul>` : ''}
${follower
    ? html`<h2>Promote</h2><p>Makes this site the source: it stops following ${s.sourceCluster}${s.connected ? ' after taking over its final revision (planned switchover)' : ''}. With the source unreachable, "Promote anyway" takes over without it.</p>
${actionButton(ctx, { action: 'promote', text: `Promote ${s.cluster}`, least: 'admin', danger: true, fields: { cluster: s.cluster }, confirm: `Promote ${s.cluster} to be the source? Clients must then use this site.` })}
${actionButton(ctx, { action: 'promote', text: `Promote ${s.cluster} anyway (source unreachable)`, least: 'admin', danger: true, fields: { cluster: s.cluster, force: '1' }, confirm: `Force ${s.cluster} to be the source without the old source? Changes it has not sent are lost.` })}`
    : ''}`;
}

export const mirroringPage: Page = {
  path: '/mirroring',
  nav: 'Mirroring',
  async render(ctx) {
    const { cluster, picker } = await chooseCluster(ctx);
    if (!cluster) return { title: 'Mirroring', body: html`<p class="empty">No clusters yet.</p>` };
    const s = await ctx.api.getMirrorStatus(cluster);
    return { title: 'Mirroring', body: html`${picker}<h2>Cluster ${cluster}</h2><div id="mirror" data-live="${`/data/mirroring?cluster=${encodeURIComponent(cluster)}`}" data-interval="2000" aria-live="polite">${status(ctx, s)}</div>` };
  },
  async data(ctx) {
    const cluster = ctx.url.searchParams.get('cluster') ?? '';
    return { html: toHtml(status(ctx, await ctx.api.getMirrorStatus(cluster))) };
  },
  actions: {
    async promote(ctx, f) {
      const cluster = clusterField(ctx, f);
      const { response } = await ctx.api.promoteMirror({ cluster, force: f.get('force') === '1', caPem: '' });
      return { flash: { kind: 'ok', message: `${cluster} is now the source (epoch ${response.status?.epoch ?? ''})${response.oldSourceFollowing ? '; the old source follows it' : ''}.` } };
    },
  },
};
