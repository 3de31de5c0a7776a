import { ApplyOutcome, WaitFor, type ServerApplyResult, type ServiceInfo } from '@laneway/proto';
import { actionButton, form, pager, pathOf, table } from '../forms';
import { badge, laneName, time } from '../format';
import { html, type HtmlValue, type SafeHtml } from '../html';
import { UserError, type Page, type PageContext, type PageView } from '../page';
import { formable, parseSchema, schemaFields, valueFromForm } from '../schema-form';

const PAGE_SIZE = 50;
const MAX_UPLOAD = 16 * 1024 * 1024;

/** The cluster the page shows: `?cluster=`, else the first one. */
async function clusterOf(ctx: PageContext): Promise<{ cluster: string | undefined; all: string[] }> {
  const { clusters } = await ctx.api.listClusters();
  const all = clusters.map((c) => c.name);
  const asked = ctx.url.searchParams.get('cluster');
  return { cluster: asked && all.includes(asked) ? asked : asked ? asked : all[0], all };
}

function clusterPicker(ctx: PageContext, cluster: string, all: string[]): HtmlValue {
  if (all.length < 2) return '';
  return html`<form method="get" action="${ctx.url.pathname}" class="inline" aria-label="Cluster"><label for="cluster">Cluster</label>
<select id="cluster" name="cluster">${all.map((c) => html`<option value="${c}"${c === cluster ? html` selected` : ''}>${c}</option>`)}</select>
<button type="submit" class="secondary">Show</button></form>`;
}

/** "s1: applied revision 5" / "s2: rejected it: m.hello: ..." lines for a flash. */
export function applyResults(servers: readonly ServerApplyResult[]): string {
  if (servers.length === 0) return 'No server was connected to apply it.';
  return servers
    .map((s) => {
      const outcome =
        s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED
          ? `applied revision ${s.appliedRevision}`
          : s.outcome === ApplyOutcome.APPLY_OUTCOME_NACKED
            ? `rejected it: ${s.errors.map((e) => `${e.service}: ${e.message}`).join('; ')}`
            : s.outcome === ApplyOutcome.APPLY_OUTCOME_TIMED_OUT
              ? 'did not answer in time'
              : 'unknown';
      return `${s.server}: ${outcome}`;
    })
    .join('\n');
}

function serviceLink(cluster: string, name: string): string {
  return `${pathOf('/services', name)}?cluster=${encodeURIComponent(cluster)}`;
}

async function listView(ctx: PageContext): Promise<PageView> {
  const { cluster, all } = await clusterOf(ctx);
  if (!cluster) return { title: 'Services', body: html`<p class="empty">No clusters yet.</p>` };
  const q = ctx.url.searchParams.get('q') ?? '';
  const listed = await ctx.api.listServices(cluster, { pageSize: PAGE_SIZE, pageToken: ctx.url.searchParams.get('page_token') ?? '', namePrefix: q });
  const rows = listed.services.map(
    (s) => html`<tr><th scope="row"><a href="${serviceLink(cluster, s.name)}">${s.name}</a></th><td class="mono">${s.version.slice(0, 12)}</td><td>${laneName(s.lane)}</td><td>${s.revision}</td><td>${time(s.updatedAt)}</td></tr>`,
  );
  const deploy = ctx.can('admin')
    ? html`<h2>Deploy</h2>${form(
        ctx,
        { action: 'deploy', multipart: true, label: 'Deploy files', url: `/services?cluster=${encodeURIComponent(cluster)}` },
        html`<label for="files">Service files <span class="hint">(.ts or .js; every service they export is deployed to ${cluster})</span></label>
<input type="file" id="files" name="files" multiple required accept=".ts,.mts,.cts,.js,.mjs,.cjs">
<p><button type="submit">Deploy</button></p>`,
      )}`
    : '';
  return {
    title: 'Services',
    body: html`<p>Cluster <strong>${cluster}</strong> at revision ${listed.revision}.</p>
${clusterPicker(ctx, cluster, all)}
<form method="get" action="/services" class="inline" role="search" aria-label="Find services"><input type="hidden" name="cluster" value="${cluster}">
<label for="q">Name starts with</label><input type="search" id="q" name="q" value="${q}"> <button type="submit" class="secondary">Find</button></form>
${table(`Services of ${cluster}`, ['Service', 'Version', 'Lane', 'Revision', 'Updated'], rows, q ? `No service's name starts with ${q}.` : 'No services deployed.')}
${pager(ctx, listed.nextPageToken)}
${deploy}`,
  };
}

async function findService(ctx: PageContext, cluster: string, name: string): Promise<ServiceInfo | undefined> {
  const { services } = await ctx.api.listServices(cluster, { pageSize: 1, namePrefix: name });
  return services[0]?.name === name ? services[0] : undefined;
}

function invokeForm(ctx: PageContext, cluster: string, service: ServiceInfo): HtmlValue {
  if (!ctx.can('operator')) return '';
  const schema = parseSchema(service.inputSchema);
  const fields: SafeHtml = formable(schema)
    ? html`${schemaFields(schema)}
<details><summary>Raw JSON instead</summary>
<label for="invoke-raw"><input type="checkbox" id="invoke-raw" name="raw" value="1"> Send this JSON instead of the fields</label>
<label for="invoke-input">Input (JSON)</label><textarea id="invoke-input" name="input" spellcheck="false">{}</textarea></details>`
    : html`<input type="hidden" name="raw" value="1"><label for="invoke-input">Input (JSON) ${
        service.inputSchema ? '' : html`<span class="hint">(the service declares no input schema the control plane could read)</span>`
      }</label><textarea id="invoke-input" name="input" spellcheck="false">{}</textarea>`;
  return html`<h2>Invoke</h2>${form(
    ctx,
    { action: 'invoke', label: 'Invoke', className: 'invoke', url: serviceLink(cluster, service.name), result: 'invoke-result' },
    html`${fields}<p><button type="submit">Invoke ${service.name}</button></p>`,
  )}<div id="invoke-result" aria-live="polite"></div>`;
}

async function detailView(ctx: PageContext, name: string): Promise<PageView> {
  const { cluster } = await clusterOf(ctx);
  if (!cluster) return { title: name, status: 404, body: html`<p class="empty">No clusters yet.</p>` };
  const [service, versions, status] = await Promise.all([
    findService(ctx, cluster, name),
    ctx.api.listServiceVersions(cluster, name).catch(() => ({ versions: [] })),
    ctx.api.getDeploymentStatus(cluster),
  ]);
  if (!service) {
    return { title: name, status: 404, body: html`<p class="error">Service ${name} is not deployed in cluster ${cluster}.</p><p><a href="/services?cluster=${cluster}">All services</a></p>` };
  }
  const versionRows = versions.versions.map(
    (v) => html`<tr><th scope="row" class="mono">${v.version.slice(0, 12)}</th><td>${laneName(v.lane)}</td><td>${time(v.createdAt)}</td><td>${
      v.current ? badge('good', 'current') : ''
    }</td><td>${
      v.current
        ? ''
        : actionButton(ctx, { action: 'rollback', text: `Roll back to ${v.version.slice(0, 12)}`, least: 'admin', fields: { version: v.version }, confirm: `Make version ${v.version.slice(0, 12)} of ${name} current again?` })
    }</td></tr>`,
  );
  const serverRows = status.servers.map((s) => {
    const errors = s.lastNack.filter((e) => !e.kind && e.service === name);
    return html`<tr><th scope="row">${s.server}</th><td>${s.connected ? badge('good', 'connected') : badge('bad', 'disconnected')}${s.drained ? html` ${badge('warn', 'drained')}` : ''}</td>
<td>${s.appliedRevision} / ${status.desiredRevision} ${s.converged ? badge('good', 'converged') : badge('warn', 'behind')}</td>
<td>${errors.length ? html`${badge('bad', 'rejected')} ${errors.map((e) => e.message).join('; ')}` : Number(s.appliedRevision) >= Number(service.revision) ? badge('good', 'runs this version') : badge('warn', 'not yet')}</td></tr>`;
  });
  const p = service.policy;
  return {
    title: `Service ${name}`,
    body: html`<p><a href="/services?cluster=${cluster}">All services of ${cluster}</a></p>
<dl class="facts"><dt>Version</dt><dd class="mono">${service.version}</dd><dt>Lane</dt><dd>${laneName(service.lane)}</dd><dt>File</dt><dd class="mono">${service.path}</dd>
<dt>Made current</dt><dd>revision ${service.revision}, ${time(service.updatedAt)}</dd>${
      p ? html`<dt>Policy</dt><dd>timeout ${p.timeoutMs ? `${p.timeoutMs} ms` : 'default'} · attempts ${p.attempts || 'default'} · concurrency ${p.concurrency || 'default'}</dd>` : ''
    }</dl>
${invokeForm(ctx, cluster, service)}
<h2>Servers</h2>
${table(`Where ${name} stands on each server of ${cluster}`, ['Server', 'Health', 'Applied / desired revision', `This version of ${name}`], serverRows, 'No servers.')}
<h2>Versions</h2>
${table(`Versions of ${name}, newest first`, ['Version', 'Lane', 'First deployed', 'State', 'Actions'], versionRows, 'No versions.')}`,
  };
}

export const servicesPage: Page = {
  path: '/services',
  nav: 'Services',
  maxBody: MAX_UPLOAD,
  render(ctx) {
    const name = ctx.params[0];
    return name === undefined ? listView(ctx) : detailView(ctx, name);
  },
  actions: {
    async deploy(ctx, formData) {
      const { cluster } = await clusterOf(ctx);
      const files = formData.files('files').filter((f) => f.filename !== '');
      if (!cluster) throw new UserError('There is no cluster to deploy to.');
      if (files.length === 0) throw new UserError('Choose at least one file to deploy.');
      const answer = await ctx.api.deploy({
        cluster,
        files: files.map((f) => ({ path: f.filename.replace(/^.*[\\/]/, ''), content: f.content.toString('utf8') })),
        waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
        timeoutMs: 15_000,
      });
      const names = answer.services.map((s) => `${s.name} ${s.version.slice(0, 12)}${s.changed ? '' : ' (unchanged)'}`).join(', ');
      return { flash: { kind: 'ok', message: `Deployed ${names} to ${cluster}: revision ${answer.revision}.`, detail: applyResults(answer.servers) } };
    },
    async rollback(ctx, formData) {
      const { cluster } = await clusterOf(ctx);
      const name = ctx.params[0] ?? '';
      const answer = await ctx.api.rollback({ cluster: cluster ?? '', service: name, version: formData.get('version') ?? '', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, timeoutMs: 15_000 });
      return {
        flash: { kind: 'ok', message: `Rolled ${name} back to ${answer.service?.version.slice(0, 12) ?? 'that version'}: revision ${answer.revision}.`, detail: applyResults(answer.servers) },
      };
    },
    async invoke(ctx, formData) {
      const { cluster } = await clusterOf(ctx);
      const name = ctx.params[0] ?? '';
      let input: string;
      if (formData.get('raw') === '1') {
        input = formData.get('input') ?? '';
        try {
          JSON.parse(input || 'null');
        } catch (err) {
          throw new UserError(`The input is not JSON: ${(err as Error).message}`);
        }
      } else {
        const service = await findService(ctx, cluster ?? '', name);
        const schema = parseSchema(service?.inputSchema ?? '');
        input = JSON.stringify(formable(schema) ? valueFromForm(schema, formData) : {});
      }
      const answer = await ctx.api.invoke({ cluster: cluster ?? '', service: name, inputJson: input, timeoutMs: 30_000 });
      let output = answer.outputJson;
      try {
        output = JSON.stringify(JSON.parse(answer.outputJson || 'null'), null, 2);
      } catch {
        // Shown as it came.
      }
      return { flash: { kind: 'ok', message: `${name} answered (server ${answer.server}, version ${answer.version.slice(0, 12)}):`, detail: output } };
    },
  },
};
