// `laneway lb haproxy --site` against Debian's real haproxy and two sites, each its own control plane
// (with its own admin token) and server, both servers named s1: one configuration takes the servers of
// both, HAProxy started on it sends requests to both sites, a server drained on the other site leaves
// by its health check (and is `disabled` once regenerated), and `--watch` keeps the other site's
// servers in the file when that site's control plane dies, while still writing the changes of the other.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, ROOT, freePort, requireHaproxy, runCli, startCluster, stopChild, type TestCluster } from '@laneway/testkit';

const service = (site: string): string => `
import { defineService } from '@laneway/sdk';
export default defineService({
  name: 'lbs.who',
  async handle(_input: unknown, ctx) {
    return { site: '${site}', server: ctx.server };
  },
});
`;

const SITE_B_TOKEN = 'site-b-admin-token-9876543210';

describe('laneway lb haproxy --site: one HAProxy over two sites', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-haproxy-sites-'));
  const file = path.join(dir, 'haproxy.cfg');
  const tokenFile = path.join(dir, 'site-b.token');
  let a: TestCluster;
  let b: TestCluster;
  let envA: Record<string, string>;
  let envB: Record<string, string>;
  let haproxy: ChildProcess | undefined;
  let watch: ChildProcess | undefined;
  const haproxyOutput: string[] = [];
  let lbPort: number;
  let common: string[];

  /** Sites that answered through HAProxy ('' for a failure), until `until` holds or `ms` pass. */
  const load = async (until: (sites: string[]) => boolean, ms: number): Promise<string[]> => {
    const sites: string[] = [];
    const deadline = Date.now() + ms;
    while (!until(sites) && Date.now() < deadline) {
      try {
        const response = await fetch(`http://127.0.0.1:${lbPort}/who`, { signal: AbortSignal.timeout(5_000) });
        const body = (await response.json().catch(() => ({}))) as { site?: string };
        sites.push(response.status === 200 ? (body.site ?? '') : '');
      } catch {
        sites.push('');
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return sites;
  };

  beforeAll(async () => {
    requireHaproxy();
    [a, b] = await Promise.all([
      startCluster({ servers: 1, http: true, name: 'lwsa' }),
      startCluster({ servers: 1, http: true, name: 'lwsb', env: { LANEWAY_ADMIN_TOKEN: SITE_B_TOKEN } }),
    ]);
    expect(b.cp.adminToken).not.toBe(a.cp.adminToken);
    envA = { LANEWAY_CONTROL_PLANE: a.cp.address, LANEWAY_TOKEN: a.cp.adminToken, LANEWAY_CLUSTER: a.cluster };
    envB = { LANEWAY_CONTROL_PLANE: b.cp.address, LANEWAY_TOKEN: b.cp.adminToken, LANEWAY_CLUSTER: b.cluster };
    writeFileSync(tokenFile, `${SITE_B_TOKEN}\n`);
    await Promise.all(
      [
        [a, 'a'],
        [b, 'b'],
      ].map(async ([tc, site]) => {
        const c = tc as TestCluster;
        await c.api.deploy(c.cluster, [{ path: 'lbs.ts', content: service(site as string) }]);
        await c.api.putChannel(c.cluster, { name: 'who', method: 'GET', path: '/who', service: 'lbs.who' });
      }),
    );
    lbPort = await freePort();
    common = ['--bind', `127.0.0.1:${lbPort}`, '--state-file', path.join(dir, 'server-state'), '--stats-socket', path.join(dir, 'admin.sock')];
  });

  afterAll(async () => {
    if (watch && watch.exitCode === null) watch.kill('SIGKILL');
    if (haproxy) await stopChild(haproxy);
    await Promise.all([a?.stop(), b?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one configuration with the servers of both sites, and refuses a bad --site, token or token file naming them', async () => {
    const site = ['--site', `${b.cluster}@${b.cp.address}`];
    const written = await runCli(['lb', 'haproxy', ...common, '--out', file, ...site, '--site-token-file', tokenFile], envA);
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`    server ${a.cp.address}:${a.cluster}:s1 127.0.0.1:${a.httpPorts[0]}\n`);
    expect(text).toContain(`    server ${b.cp.address}:${b.cluster}:s1 127.0.0.1:${b.httpPorts[0]}\n`);

    const noFile = await runCli(['lb', 'haproxy', ...site, '--site-token-file', path.join(dir, 'nope.token')], envA);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain(`cannot read --site-token-file '${path.join(dir, 'nope.token')}' (for --site ${b.cluster}@${b.cp.address})`);
    const noToken = await runCli(['lb', 'haproxy', ...site], envA);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('give one --site-token-file per --site');
    const bad = await runCli(['lb', 'haproxy', '--site', b.cp.address, '--site-token-file', tokenFile], envA);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`option '--site <CLUSTER@ADDR>' argument '${b.cp.address}' is invalid`);
    // Site A's token is not site B's.
    const aToken = path.join(dir, 'site-a.token');
    writeFileSync(aToken, a.cp.adminToken);
    const wrong = await runCli(['lb', 'haproxy', ...site, '--site-token-file', aToken], envA);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`error: --site ${b.cluster}@${b.cp.address}: UNAUTHENTICATED`);
  });

  it('sends requests through HAProxy to the servers of both sites', async () => {
    haproxy = spawn('haproxy', ['-db', '-f', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      haproxyOutput.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      haproxyOutput.splice(0, Math.max(0, haproxyOutput.length - 100));
    };
    haproxy.stdout!.on('data', keep);
    haproxy.stderr!.on('data', keep);
    // Listening once a request gets an answer (before that, the port refuses).
    const up = await load((s) => s.some((x) => x !== ''), 5_000);
    expect(up.some((x) => x !== ''), haproxyOutput.join('\n')).toBe(true);
    const sites = await load((s) => s.includes('a') && s.includes('b') && s.length >= 10, 6_000);
    expect(sites.filter((x) => x === ''), haproxyOutput.join('\n')).toEqual([]);
    expect(new Set(sites), haproxyOutput.join('\n')).toEqual(new Set(['a', 'b']));
  });

  it("takes a server drained on the other site out (by its check; `disabled` once regenerated), then back once resumed", async () => {
    expect((await runCli(['drain', 's1'], envB)).code).toBe(0);
    const lastTen = (s: string[]) => s.length >= 10 && s.slice(-10).every((x) => x === 'a');
    const sent = await load(lastTen, 6_000);
    expect(sent.filter((x) => x !== 'a' && x !== 'b'), haproxyOutput.slice(-20).join('\n')).toEqual([]);
    expect(lastTen(sent)).toBe(true);
    const printed = await runCli(['lb', 'haproxy', ...common, '--site', `${b.cluster}@${b.cp.address}`, '--site-token-file', tokenFile], envA);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`    server ${b.cp.address}:${b.cluster}:s1 127.0.0.1:${b.httpPorts[0]} disabled  # drained\n`);
    expect(printed.stdout).toContain(`    server ${a.cp.address}:${a.cluster}:s1 127.0.0.1:${a.httpPorts[0]}\n`);

    expect((await runCli(['resume', 's1'], envB)).code).toBe(0);
    const back = await load((s) => s.includes('b'), 6_000);
    expect(back).toContain('b');
  });

  it('--watch keeps the servers of a site whose control plane died, with a warning, and HAProxy still reaches them', async () => {
    const watched = path.join(dir, 'watched.cfg');
    watch = spawn(
      process.execPath,
      [path.join(DIST, 'cli/main.js'), 'lb', 'haproxy', '--watch', '--interval', '200ms', '--out', watched, ...common, '--site', `${b.cluster}@${b.cp.address}`, '--site-token-file', tokenFile],
      { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...envA }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    watch.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const waitFor = async (match: RegExp, ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (!match.test(stderr)) {
        if (Date.now() > until || watch!.exitCode !== null) throw new Error(`no ${match} within ${ms} ms; stderr:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await waitFor(/^watching: /m, 8_000);
    const before = readFileSync(watched, 'utf8');
    const bLine = `    server ${b.cp.address}:${b.cluster}:s1 127.0.0.1:${b.httpPorts[0]}\n`;
    expect(before).toContain(bLine);

    await b.cp.process.stop();
    await waitFor(new RegExp(`warning: --site ${b.cluster}@${b.cp.address}: .*keeping its 1 last known server`), 8_000);
    // A few more polls: the file is left as it was, site B's server still in it.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(readFileSync(watched, 'utf8')).toBe(before);
    expect(watch.exitCode).toBeNull();
    // A change on site A is still written, site B's server kept beside it.
    expect((await runCli(['drain', 's1'], envA)).code).toBe(0);
    const aDisabled = `    server ${a.cp.address}:${a.cluster}:s1 127.0.0.1:${a.httpPorts[0]} disabled  # drained\n`;
    const until = Date.now() + 5_000;
    while (!readFileSync(watched, 'utf8').includes(aDisabled) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(readFileSync(watched, 'utf8'), stderr).toContain(aDisabled);
    expect(readFileSync(watched, 'utf8')).toContain(bLine);
    // Site B's server goes on answering without its control plane: with A's drained, it takes every request.
    const onlyB = (s: string[]) => s.length >= 10 && s.slice(-10).every((x) => x === 'b');
    const sites = await load(onlyB, 6_000);
    expect(sites.filter((x) => x === ''), haproxyOutput.slice(-20).join('\n')).toEqual([]);
    expect(onlyB(sites)).toBe(true);

    watch.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => (watch!.exitCode !== null ? resolve(watch!.exitCode) : watch!.once('exit', resolve)));
    expect(code).toBe(0);
  });
});
