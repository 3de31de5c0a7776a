import type { ServerApplyResult } from '@laneway/proto';
import { ApplyOutcome } from '@laneway/proto';
import { html, type SafeHtml } from '../html';
import type { PageContext } from '../page';

export interface ClusterChoice {
  /** The selected cluster (`?cluster=`, else the first); undefined when there is none. */
  readonly cluster: string | undefined;
  /** A GET form choosing the cluster (empty with one cluster or none). */
  readonly picker: SafeHtml;
}

/** The cluster a page shows (`?cluster=`, else the first one) and a form to choose another. */
export async function chooseCluster(ctx: PageContext): Promise<ClusterChoice> {
  const { clusters } = await ctx.api.listClusters();
  const asked = ctx.url.searchParams.get('cluster');
  const cluster = asked || clusters[0]?.name;
  if (clusters.length < 2 && (!asked || clusters.some((c) => c.name === asked))) return { cluster, picker: html`` };
  return {
    cluster,
    picker: html`<form method="get" class="picker" action="${ctx.url.pathname}"><label for="cluster-pick">Cluster</label>
<select id="cluster-pick" name="cluster">${clusters.map((c) => html`<option${c.name === cluster ? html` selected` : ''}>${c.name}</option>`)}</select>
<button type="submit" class="secondary">Show</button></form>`,
  };
}

/** The `cluster` of a posted form or of the page's URL. */
export function clusterField(ctx: PageContext, form: { get(name: string): string | undefined }): string {
  return form.get('cluster') || ctx.url.searchParams.get('cluster') || '';
}

/** "revision 7, applied by 2 of 2 servers" for a change's answer. */
export function applied(revision: number, servers: readonly ServerApplyResult[]): string {
  const acked = servers.filter((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED).length;
  const failed = servers.filter((s) => s.outcome !== ApplyOutcome.APPLY_OUTCOME_ACKED);
  const detail = failed.map((s) => `${s.server}: ${s.outcome === ApplyOutcome.APPLY_OUTCOME_NACKED ? 'rejected' : 'timed out'}${s.errors.length ? ` (${s.errors.map((e) => e.message).join('; ')})` : ''}`);
  return `revision ${revision}, applied by ${acked} of ${servers.length} servers${detail.length ? `; ${detail.join(', ')}` : ''}`;
}

/** A URL of this page keeping the selected cluster: `/channels/x?cluster=c`. */
export function withCluster(path: string, cluster: string | undefined): string {
  return cluster ? `${path}?cluster=${encodeURIComponent(cluster)}` : path;
}
