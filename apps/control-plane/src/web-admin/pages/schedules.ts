import { ScheduleOverlap, ScheduleRunOutcome, type Schedule, type ScheduleRun } from '@laneway/proto';
import { actionButton, form, table } from '../forms';
import { ago, badge, duration, time } from '../format';
import { html, type HtmlValue, type SafeHtml } from '../html';
import type { Page, PageContext } from '../page';
import { UserError } from '../web-admin';
import { applied, chooseCluster, clusterField } from './cluster-select';

/** How many of each schedule's last runs the list shows. */
const RUNS_SHOWN = 5;

function every(s: Schedule): string {
  const spec = s.spec;
  if (!spec) return '';
  if (spec.cron) return `cron ${spec.cron}${spec.timezone ? ` (${spec.timezone})` : ''}`;
  const ms = spec.intervalMs;
  return ms % 1000 === 0 ? `every ${duration(ms / 1000)}` : `every ${ms} ms`;
}

function outcome(run: ScheduleRun): HtmlValue {
  switch (run.outcome) {
    case ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_OK:
      return badge('good', 'ok');
    case ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_FAILED:
      return badge('bad', 'failed');
    case ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_SKIPPED:
      return badge('warn', 'skipped');
    default:
      return badge('info', 'running');
  }
}

function runs(list: readonly ScheduleRun[]): HtmlValue {
  if (list.length === 0) return html`<span class="hint">none yet</span>`;
  return html`<ul class="runs">${list.map(
    (r) => html`<li>${outcome(r)} ${time(r.startedAt || r.scheduledAt)}${r.manual ? ' (run now)' : ''}${r.server ? html` on ${r.server}` : ''}${r.durationMs ? html`, ${r.durationMs} ms` : ''}${r.error ? html`: <span class="error">${r.error}</span>` : ''}</li>`,
  )}</ul>`;
}

function row(ctx: PageContext, cluster: string, s: Schedule, last: readonly ScheduleRun[]): SafeHtml {
  const paused = !!s.spec?.paused;
  const fields = { cluster, name: s.name };
  return html`<tr data-schedule="${s.name}"><th scope="row">${s.name}</th><td>${s.spec?.service}</td><td>${every(s)}</td>
<td>${paused ? badge('warn', 'paused') : badge('good', 'active')}</td>
<td>${paused || !s.nextRunAt ? '—' : html`${time(s.nextRunAt)} <span class="hint">(${ago(s.nextRunAt)})</span>`}</td>
<td>${runs(last)}</td>
<td>${paused ? actionButton(ctx, { action: 'resume', text: `Resume ${s.name}`, least: 'operator', fields }) : actionButton(ctx, { action: 'pause', text: `Pause ${s.name}`, least: 'operator', className: 'secondary', fields })}
${actionButton(ctx, { action: 'run', text: `Run ${s.name} now`, least: 'operator', className: 'secondary', fields })}
${actionButton(ctx, { action: 'delete', text: `Delete ${s.name}`, least: 'admin', danger: true, fields, confirm: `Delete the schedule ${s.name}?` })}</td></tr>`;
}

function uint(f: { get(name: string): string | undefined }, name: string): number {
  const text = (f.get(name) ?? '').trim();
  if (text === '') return 0;
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new UserError(`${name} must be a whole number of 0 or more, got '${text}'.`);
  return Number(text);
}

export const schedulesPage: Page = {
  path: '/schedules',
  nav: 'Schedules',
  async render(ctx) {
    const { cluster, picker } = await chooseCluster(ctx);
    if (!cluster) return { title: 'Schedules', body: html`<p class="empty">No clusters yet.</p>` };
    const { schedules } = await ctx.api.listSchedules(cluster);
    const last = await Promise.all(schedules.map((s) => ctx.api.listScheduleRuns(cluster, s.name, RUNS_SHOWN).then((r) => r.runs)));
    return {
      title: 'Schedules',
      body: html`${picker}${table(`Schedules of ${cluster}`, ['Schedule', 'Service', 'When', 'State', 'Next run', `Last ${RUNS_SHOWN} runs`, 'Actions'], schedules.map((s, i) => row(ctx, cluster, s, last[i]!)), 'No schedules yet.')}
${ctx.can('admin') ? html`<h2>New schedule</h2>${form(ctx, { action: 'create', fields: { cluster }, label: 'New schedule' }, html`<fieldset><legend>Schedule of ${cluster}</legend>
<label for="sc-name">Name</label><input type="text" id="sc-name" name="name" required>
<label for="sc-service">Service</label><input type="text" id="sc-service" name="service" required>
<label for="sc-input">Input (JSON)</label><textarea id="sc-input" name="input_json">{}</textarea>
<label for="sc-interval">Every (ms) <span class="hint">(or a cron expression below)</span></label><input type="number" min="0" id="sc-interval" name="interval_ms">
<label for="sc-cron">Cron</label><input type="text" id="sc-cron" name="cron" placeholder="*/5 * * * *">
<label for="sc-tz">Time zone <span class="hint">(cron; default UTC)</span></label><input type="text" id="sc-tz" name="timezone">
<label for="sc-overlap">When the last run is still going</label><select id="sc-overlap" name="overlap"><option value="skip">skip</option><option value="allow">allow</option></select>
<p><button type="submit">Create schedule</button></p></fieldset>`)}` : ''}`,
    };
  },
  actions: {
    async create(ctx, f) {
      const v = (n: string): string => (f.get(n) ?? '').trim();
      const r = await ctx.api.putSchedule(
        {
          cluster: clusterField(ctx, f),
          name: v('name'),
          service: v('service'),
          inputJson: v('input_json'),
          intervalMs: uint(f, 'interval_ms'),
          cron: v('cron'),
          timezone: v('timezone'),
          overlap: v('overlap') === 'allow' ? ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW : ScheduleOverlap.SCHEDULE_OVERLAP_SKIP,
          waitFor: 0,
          waitTimeoutMs: 0,
        },
        false,
      );
      return { flash: { kind: 'ok', message: `Created the schedule ${r.schedule?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async pause(ctx, f) {
      const r = await ctx.api.changeSchedule('pause', { cluster: clusterField(ctx, f), name: f.get('name') ?? '', waitFor: 0, waitTimeoutMs: 0 });
      return { flash: { kind: 'ok', message: `Paused ${r.schedule?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async resume(ctx, f) {
      const r = await ctx.api.changeSchedule('resume', { cluster: clusterField(ctx, f), name: f.get('name') ?? '', waitFor: 0, waitTimeoutMs: 0 });
      return { flash: { kind: 'ok', message: `Resumed ${r.schedule?.name ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async delete(ctx, f) {
      const r = await ctx.api.changeSchedule('delete', { cluster: clusterField(ctx, f), name: f.get('name') ?? '', waitFor: 0, waitTimeoutMs: 0 });
      return { flash: { kind: 'ok', message: `Deleted the schedule ${f.get('name') ?? ''} (${applied(r.revision, r.servers)}).` } };
    },
    async run(ctx, f) {
      const name = f.get('name') ?? '';
      const jobId = await ctx.api.runScheduleNow(clusterField(ctx, f), name);
      return { flash: { kind: 'ok', message: `Started ${name} now (job ${jobId}).` } };
    },
  },
};
