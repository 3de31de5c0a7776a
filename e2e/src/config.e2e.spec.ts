import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { format } from 'date-fns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, startCluster, type TestCluster } from '@laneway/testkit';

// A cluster's configuration as code, across two control planes: a cluster built through the usual
// commands is exported (laneway.yaml, the services, their helper and their bundled npm package),
// applied to a fresh cluster of another control plane with two servers, which then serve it (an
// API-key channel in front of a service that calls a REST connection whose token travelled as a
// ${env:...} reference), and exported again: the two directories are the same but for the cluster.

const CRM_TOKEN = 'crm-token-7d1f0c2a9b';
const API_KEY = 'partner-key-0123456789abcdef';

const files: Record<string, string> = {
  'crm/lib/greeting.ts': `export function greeting(id: string): string {\n  return 'customer ' + id;\n}\n`,
  'crm/get-customer.ts': `import { defineService } from '@laneway/sdk';
import { format } from 'date-fns';
import { greeting } from './lib/greeting';
export default defineService({
  name: 'crm.get-customer',
  connections: ['crm'],
  async handle(input: { id: string }, ctx) {
    const crm = await ctx.rest('crm').get('/customers/' + input.id);
    return { server: ctx.server, hello: greeting(input.id), day: format(new Date(Date.UTC(2026, 11, 4, 12)), 'yyyy-MM-dd'), crm: crm.body };
  },
});
`,
  'ops/ping.ts': `import { defineService } from '@laneway/sdk';\nexport default defineService({ name: 'ops.ping', handle: () => 'pong' });\n`,
};

/** Every file under `dir` (relative paths) with its content. */
function readTree(dir: string, base = dir): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) for (const [k, v] of readTree(full, base)) out.set(k, v);
    else out.set(path.relative(base, full), readFileSync(full, 'utf8'));
  }
  return out;
}

describe('laneway export / diff / apply: a cluster as code, round trip across control planes', () => {
  let src: TestCluster;
  let dst: TestCluster;
  let crm: Server;
  let work: string;
  const cli = (c: TestCluster, args: string[], extra: Record<string, string> = {}) =>
    runCli(args, { LANEWAY_CONTROL_PLANE: c.cp.address, LANEWAY_TOKEN: c.cp.adminToken, LANEWAY_CLUSTER: c.cluster, ...extra });

  beforeAll(async () => {
    crm = createServer((request, response) => {
      const authorized = request.headers.authorization === `Bearer ${CRM_TOKEN}`;
      response.writeHead(authorized ? 200 : 401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ path: request.url, authorized }));
    });
    await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', resolve));
    const crmUrl = `http://127.0.0.1:${(crm.address() as AddressInfo).port}`;
    [src, dst] = await Promise.all([startCluster({ servers: 1, name: 'lwcfga' }), startCluster({ servers: 2, http: true, name: 'lwcfgb' })]);

    work = mkdtempSync(path.join(ROOT, 'tmp-config-e2e-'));
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(work, 'src', file)), { recursive: true });
      writeFileSync(path.join(work, 'src', file), content);
    }
    await src.api.createConnection(src.cluster, 'crm', { rest: { baseUrl: crmUrl, headers: {}, timeoutMs: 5000, retries: 0, caPem: '', bearer: { token: CRM_TOKEN, tokenSet: false } } });
    const deployed = await runCli(['deploy', path.relative(ROOT, path.join(work, 'src'))], { LANEWAY_CONTROL_PLANE: src.cp.address, LANEWAY_TOKEN: src.cp.adminToken, LANEWAY_CLUSTER: src.cluster });
    expect(deployed.stderr).toBe('');
    await src.api.createSecurity(src.cluster, { name: 'partner', apiKey: { header: 'X-Api-Key', key: API_KEY, keySet: false } });
    await src.api.putChannel(src.cluster, { name: 'get-customer', method: 'GET', path: '/customers/:id', service: 'crm.get-customer', security: 'partner' });
    await src.api.putSchedule(src.cluster, { name: 'hourly-ping', service: 'ops.ping', cron: '0 * * * *', timezone: 'Europe/Berlin' });
  }, 90_000);

  afterAll(async () => {
    crm?.close();
    if (work) rmSync(work, { recursive: true, force: true });
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it('exports the cluster as laneway.yaml and the deployed files, secrets as references', async () => {
    const exported = await cli(src, ['export', '-o', path.join(work, 'a')]);
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('CRM_TOKEN');
    const tree = readTree(path.join(work, 'a'));
    // Paths as deployed: `laneway deploy` sends them relative to its working directory (the repository root here).
    const deployedAs = (file: string) => path.join(path.relative(ROOT, work), 'src', file);
    expect([...tree.keys()].sort()).toEqual(['laneway.yaml', 'node_modules/date-fns.js', ...Object.keys(files).map(deployedAs)].sort());
    for (const [file, content] of Object.entries(files)) expect(tree.get(deployedAs(file))).toBe(content);
    const yaml = tree.get('laneway.yaml')!;
    expect(yaml).toContain('token: ${env:CRM_TOKEN}');
    expect(yaml).not.toContain(CRM_TOKEN);
    expect(yaml).not.toContain(API_KEY);
  }, 60_000);

  it('refuses an apply whose secret reference is not set, naming it, and changes nothing', async () => {
    const before = (await dst.api.getCluster(dst.cluster)).revision;
    const applied = await cli(dst, ['apply', path.join(work, 'a')]);
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('CRM_TOKEN (connections.crm.rest.bearer.token)');
    expect((await dst.api.getCluster(dst.cluster)).revision).toBe(before);
    expect((await dst.api.listServices(dst.cluster)).services).toEqual([]);
  }, 60_000);

  it('diffs, then applies into the fresh cluster in one revision; both of its servers serve it', async () => {
    const env = { CRM_TOKEN };
    const diff = await cli(dst, ['diff', path.join(work, 'a')], env);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toMatch(/\+ channel get-customer/);
    expect(diff.stdout).toMatch(/\+ service crm\.get-customer/);
    // --exit-code: 1 while there is something to apply, as git diff --exit-code.
    const exitCode = await cli(dst, ['diff', path.join(work, 'a'), '--exit-code'], env);
    expect(exitCode.code).toBe(1);
    expect(exitCode.stdout).toBe(diff.stdout);
    const before = (await dst.api.getCluster(dst.cluster)).revision;
    const applied = await cli(dst, ['apply', path.join(work, 'a')], env);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect((await dst.api.getCluster(dst.cluster)).revision).toBe(before + 1);
    const day = format(new Date(Date.UTC(2026, 11, 4, 12)), 'yyyy-MM-dd');
    for (const [n, port] of dst.httpPorts.entries()) {
      const refused = await fetch(`http://127.0.0.1:${port}/customers/42`);
      expect(refused.status).toBe(401);
      const response = await fetch(`http://127.0.0.1:${port}/customers/42`, { headers: { 'x-api-key': API_KEY } });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ server: `s${n + 1}`, hello: 'customer 42', day, crm: { path: '/customers/42', authorized: true } });
    }
    const schedule = await dst.api.getSchedule(dst.cluster, 'hourly-ping');
    expect(schedule.nextRunAt).not.toBe('');
  }, 90_000);

  it('exports the applied cluster again: the same files, byte for byte, but the cluster name', async () => {
    const again = await cli(dst, ['export', '-o', path.join(work, 'b')]);
    expect(again.code).toBe(0);
    const a = readTree(path.join(work, 'a'));
    const b = readTree(path.join(work, 'b'));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [file, content] of a) {
      const expected = file === 'laneway.yaml' ? content.replace(`cluster: ${src.cluster}`, `cluster: ${dst.cluster}`) : content;
      expect(b.get(file), file).toBe(expected);
    }
    // Applying it again changes nothing.
    const twice = await cli(dst, ['apply', path.join(work, 'b')], { CRM_TOKEN });
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('nothing to apply');
    const same = await cli(dst, ['diff', path.join(work, 'b'), '--exit-code', '--all'], { CRM_TOKEN });
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/^= service crm\.get-customer$/m);
    expect(same.stdout).toMatch(/\n0 to add, 0 to change, 0 to remove, \d+ unchanged, 0 not in .*, kept\n$/);
  }, 60_000);
});
