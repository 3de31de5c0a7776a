import { actionButton, pager, table } from '../forms';
import { time } from '../format';
import { html } from '../html';
import type { Page } from '../page';
import { chooseCluster, clusterField } from './cluster-select';

/** Jobs per page: ListFailedJobs reads about this many per lane whatever the total, so 100,000 failures render as fast as 10. */
const PAGE_SIZE = 50;
/** Input shown in the list at most (the job has it all; GetJob / `laneway jobs get`). */
const INPUT_SHOWN = 200;

export const jobsPage: Page = {
  path: '/jobs',
  nav: 'Jobs',
  async render(ctx) {
    const { cluster, picker } = await chooseCluster(ctx);
    if (!cluster) return { title: 'Failed jobs', body: html`<p class="empty">No clusters yet.</p>` };
    const service = ctx.url.searchParams.get('service') ?? '';
    const { jobs, nextPageToken } = await ctx.api.listFailedJobs({ cluster, service, limit: 0, pageSize: PAGE_SIZE, pageToken: ctx.url.searchParams.get('page_token') ?? '' });
    const rows = jobs.map(
      (j) => html`<tr data-job="${j.jobId}"><th scope="row" class="mono">${j.jobId}</th><td>${j.service}</td><td>${j.attemptsMade}</td><td class="error">${j.failedReason}</td>
<td class="mono">${j.inputJson.length > INPUT_SHOWN ? `${j.inputJson.slice(0, INPUT_SHOWN)}…` : j.inputJson}</td><td>${time(j.finishedAt)}</td>
<td>${actionButton(ctx, { action: 'retry', text: `Retry ${j.jobId}`, least: 'operator', fields: { cluster, job: j.jobId } })}</td></tr>`,
    );
    return {
      title: 'Failed jobs',
      body: html`${picker}<p>Async invocations that used up their attempts, newest first. A retry queues the job again with its attempts reset.</p>
<form method="get" class="picker" action="/jobs"><input type="hidden" name="cluster" value="${cluster}"><label for="jobs-service">Service</label>
<input type="text" id="jobs-service" name="service" value="${service}"><button type="submit" class="secondary">Filter</button></form>
${table(`Failed jobs of ${cluster}${service ? ` (${service})` : ''}`, ['Job', 'Service', 'Attempts', 'Last error', 'Input', 'Failed', 'Actions'], rows, nextPageToken ? 'None among the jobs looked at for this page: the next page looks further.' : 'No failed jobs.')}
${pager(ctx, nextPageToken)}`,
    };
  },
  actions: {
    async retry(ctx, f) {
      const job = await ctx.api.retryJob(clusterField(ctx, f), f.get('job') ?? '');
      return { flash: { kind: 'ok', message: `Queued ${job.jobId} (${job.service}) again.` } };
    },
  },
};
