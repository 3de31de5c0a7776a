import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Role } from '@laneway/proto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, cleanRedisPrefix, eventually, freePort, ROOT, startControlPlane, startServer, uniqueName, type AppProcess, type ControlPlaneHandle } from '@laneway/testkit';

// The web admin's core pages in Debian's chromium (playwright-core, no browser download): sign-in per
// role, the overview updating live, services (deploy from the browser, the invoke form generated from
// the input schema, rollback), a viewer's forced change refused by the API, and axe on every page at
// desktop width and at 375 px. One browser for the file; one context (and page) per role, reused.

const AXE = readFileSync(path.join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const PASSWORD = { viewer: 'viewer-password-1', operator: 'operator-password-1', admin: 'admin-password-1' } as const;
type RoleName = keyof typeof PASSWORD;

/**
 * A service whose input is a hand-written Standard Schema with a JSON Schema (what zod 4 gives): the
 * web admin's invoke form is generated from it. `version` changes its answer, to see a rollback.
 */
const greet = (version: string): string => `
import { defineService } from '@laneway/sdk';

const input = {
  '~standard': {
    version: 1,
    vendor: 'e2e',
    validate(value) {
      if (typeof value !== 'object' || value === null || typeof value.name !== 'string') return { issues: [{ message: 'name is required', path: ['name'] }] };
      return { value };
    },
    jsonSchema: {
      input: () => ({ type: 'object', properties: { name: { type: 'string', title: 'Name' }, times: { type: 'integer', minimum: 1 }, loud: { type: 'boolean' } }, required: ['name'] }),
      output: () => ({ type: 'object' }),
    },
  },
};

export const greet = defineService({
  name: 'wa.greet',
  input,
  handle(value) {
    if (value.name === 'boom') throw new Error('boom was asked for');
    const text = '${version} hello ' + value.name;
    return { greeting: value.loud ? text.toUpperCase() : text, times: value.times ?? 1 };
  },
});
`;

describe('web admin in a browser', () => {
  const prefix = uniqueName('lwweb');
  const cluster = uniqueName('web');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-web-admin-'));
  let cp: ControlPlaneHandle;
  let api: Api;
  let server: AppProcess;
  let browser: Browser;
  let base: string;
  let serverPort: number;
  const contexts = new Map<RoleName, BrowserContext>();
  const pages = new Map<RoleName, Page>();

  /** What the browser reported against the CSP on any page (none expected). */
  const cspErrors: string[] = [];

  const page = (role: RoleName): Page => pages.get(role)!;

  /** Watches a page for CSP refusals and accepts its confirm dialogs. */
  function watch(p: Page): Page {
    p.on('dialog', (dialog) => void dialog.accept());
    p.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) cspErrors.push(`${p.url()}: ${message.text()}`);
    });
    return p;
  }

  /** A new browser context signed in as `role` (axe needs one that lets its injected script run: `bypassCSP`). */
  async function signedInContext(role: RoleName, bypassCSP = false): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP });
    const p = bypassCSP ? await context.newPage() : watch(await context.newPage());
    if (bypassCSP) p.on('dialog', (dialog) => void dialog.accept());
    await p.goto(`${base}/login`);
    await p.fill('#username', `e2e-${role}`);
    await p.fill('#password', PASSWORD[role]);
    await Promise.all([p.waitForURL(`${base}/`), p.click('button[type=submit]')]);
    return { context, page: p };
  }

  async function signIn(role: RoleName): Promise<Page> {
    const { context, page: p } = await signedInContext(role);
    contexts.set(role, context);
    pages.set(role, p);
    return p;
  }

  async function axe(p: Page, label: string): Promise<void> {
    await p.addScriptTag({ content: AXE });
    const violations = (await p.evaluate(`axe.run().then((result) => result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`)) as string[];
    expect(violations, label).toEqual([]);
  }

  beforeAll(async () => {
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix });
    base = `http://127.0.0.1:${cp.httpPort}`;
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    const [joinToken, port] = await Promise.all([api.joinToken(cluster), freePort()]);
    serverPort = port;
    server = await startServer({
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_CLUSTER: cluster,
      LANEWAY_SERVER_NAME: 's1',
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_JOIN_TOKEN: joinToken,
      LANEWAY_HTTP_ADDR: `127.0.0.1:${port}`,
      LANEWAY_CPU_THREADS: '1',
    });
    const roles: Record<RoleName, Role> = { viewer: Role.ROLE_VIEWER, operator: Role.ROLE_OPERATOR, admin: Role.ROLE_ADMIN };
    for (const [role, value] of Object.entries(roles)) await api.client.createUser({ username: `e2e-${role}`, password: PASSWORD[role as RoleName], role: value });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    await Promise.all((['viewer', 'operator', 'admin'] as const).map((role) => signIn(role)));
  });

  afterAll(async () => {
    await browser?.close();
    api?.close();
    await server?.stop();
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs each role in, shows who is signed in, and refuses a wrong password', async () => {
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      await expect(page(role).locator('header .user').textContent()).resolves.toContain(`e2e-${role} (${role})`);
    }
    const context = await browser.newContext();
    try {
      const p = await context.newPage();
      await p.goto(`${base}/`);
      expect(new URL(p.url()).pathname).toBe('/login');
      await p.fill('#username', 'e2e-viewer');
      await p.fill('#password', 'not-the-password');
      await p.click('button[type=submit]');
      await expect(p.locator('.flash.error').textContent()).resolves.toContain('Wrong username or password.');
      expect((await context.cookies()).some((c) => c.name === 'lw_session')).toBe(false);
    } finally {
      await context.close();
    }
    const cookie = (await contexts.get('viewer')!.cookies()).find((c) => c.name === 'lw_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it('deploys a file from the browser (admin) and shows each server\'s result', async () => {
    const p = page('admin');
    await p.goto(`${base}/services?cluster=${cluster}`);
    await p.setInputFiles('#files', { name: 'greet.js', mimeType: 'text/javascript', buffer: Buffer.from(greet('v1')) });
    await Promise.all([p.waitForURL(/\/services\?cluster=/), p.click('button:has-text("Deploy")')]);
    const flash = await p.locator('.flash.ok').textContent();
    expect(flash).toContain('Deployed wa.greet');
    expect(flash).toMatch(/s1: applied revision \d+/);
    await p.setInputFiles('#files', { name: 'greet.js', mimeType: 'text/javascript', buffer: Buffer.from(greet('v2')) });
    await Promise.all([p.waitForURL(/\/services\?cluster=/), p.click('button:has-text("Deploy")')]);
    expect(await p.locator('.flash.ok').textContent()).toContain('Deployed wa.greet');
    await expect(p.locator('table a:has-text("wa.greet")').count()).resolves.toBe(1);
    expect((await api.listServiceVersions(cluster, 'wa.greet')).versions).toHaveLength(2);
  });

  it('invokes from the form generated from the input schema, showing the output or the error, and rolls back', async () => {
    const p = page('admin');
    await p.goto(`${base}/services/wa.greet?cluster=${cluster}`);
    await p.fill('#in-name', 'Ada');
    await p.fill('#in-times', '3');
    await p.check('#in-loud');
    await p.click('button:has-text("Invoke wa.greet")');
    await p.locator('#invoke-result .flash.ok').waitFor();
    const output = await p.locator('#invoke-result pre').textContent();
    expect(JSON.parse(output!)).toEqual({ greeting: 'V2 HELLO ADA', times: 3 });
    await p.fill('#in-name', 'boom');
    await p.click('button:has-text("Invoke wa.greet")');
    await p.locator('#invoke-result .flash.error').waitFor();
    expect(await p.locator('#invoke-result .flash.error').textContent()).toContain('boom was asked for');

    const v1 = (await api.listServiceVersions(cluster, 'wa.greet')).versions.find((v) => !v.current)!.version;
    await Promise.all([p.waitForURL(/wa\.greet/), p.click(`button:has-text("Roll back to ${v1.slice(0, 12)}")`)]);
    const flash = await p.locator('.flash.ok').textContent();
    expect(flash).toContain('Rolled wa.greet back');
    expect(flash).toMatch(/s1: applied revision \d+/);
    expect((await api.listServices(cluster)).services.find((s) => s.name === 'wa.greet')!.version).toBe(v1);
    await p.fill('#in-name', 'Bo');
    await p.click('button:has-text("Invoke wa.greet")');
    await p.locator('#invoke-result .flash.ok').waitFor();
    expect(JSON.parse((await p.locator('#invoke-result pre').textContent())!)).toMatchObject({ greeting: 'v1 hello Bo' });
  });

  it('shows a viewer every page without change buttons, and a forced change is refused by the API', async () => {
    const p = page('viewer');
    await p.goto(`${base}/`);
    await p.locator('tr[data-server="s1"]').waitFor();
    await expect(p.locator('button:has-text("Drain")').count()).resolves.toBe(0);
    await p.goto(`${base}/services?cluster=${cluster}`);
    await expect(p.locator('#files').count()).resolves.toBe(0);
    await p.goto(`${base}/services/wa.greet?cluster=${cluster}`);
    await expect(p.locator('form.invoke').count()).resolves.toBe(0);
    await expect(p.locator('button:has-text("Roll back")').count()).resolves.toBe(0);
    // The viewer posts the operator's form anyway (CSRF token and origin are right): the API says no.
    await p.goto(`${base}/`);
    await Promise.all([
      p.waitForURL(`${base}/`),
      // A string, so that this file needs no DOM types.
      p.evaluate(`(() => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/';
        const fields = { _csrf: document.querySelector('input[name=_csrf]').value, _action: 'drain', cluster: ${JSON.stringify(cluster)}, server: 's1' };
        for (const [name, value] of Object.entries(fields)) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = name;
          input.value = value;
          form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
      })()`),
    ]);
    await expect(p.locator('.flash.error').textContent()).resolves.toMatch(/PERMISSION_DENIED: .*operator/);
    expect((await api.listServers(cluster)).servers[0]!.drained).toBe(false);
  });

  it('shows a drain in a second tab within a second, and resumes', async () => {
    const a = page('operator');
    const b = watch(await contexts.get('operator')!.newPage());
    try {
      await a.goto(`${base}/`);
      await b.goto(`${base}/`);
      const row = b.locator('tr[data-server="s1"]');
      await expect(row.textContent()).resolves.toContain('serving');
      await Promise.all([a.waitForResponse((r) => r.request().method() === 'POST'), a.click('button:has-text("Drain s1")')]);
      const drainedAt = Date.now();
      await a.waitForLoadState();
      await expect(a.locator('.flash.ok').textContent()).resolves.toContain('Drained s1.');
      await row.locator('text=drained').waitFor({ timeout: 1000 });
      expect(Date.now() - drainedAt).toBeLessThan(1000);
      await Promise.all([a.waitForResponse((r) => r.request().method() === 'POST'), a.click('button:has-text("Resume s1")')]);
      await row.locator('text=serving').waitFor({ timeout: 1000 });
      expect((await api.listServers(cluster)).servers[0]!.drained).toBe(false);
    } finally {
      await b.close();
    }
  });

  it('pages the services list on the server', async () => {
    await api.deploy(cluster, [
      {
        path: 'many.js',
        content: `import { defineService } from '@laneway/sdk';\n${Array.from({ length: 60 }, (_, i) => `export const s${i} = defineService({ name: 'many.s${String(i).padStart(2, '0')}', handle: () => ${i} });`).join('\n')}`,
      },
    ]);
    const p = page('viewer');
    await p.goto(`${base}/services?cluster=${cluster}&q=many.`);
    await expect(p.locator('tbody tr').count()).resolves.toBe(50);
    await Promise.all([p.waitForURL(/page_token=/), p.click('a[rel=next]')]);
    await expect(p.locator('tbody tr').count()).resolves.toBe(10);
    await expect(p.locator('tbody tr').last().textContent()).resolves.toContain('many.s59');
  });

  it('charts requests/s and p99 per channel route from the control plane\'s own scrapes of the servers', async () => {
    await api.putChannel(cluster, { name: 'greet', method: 'GET', path: '/greet/:name', service: 'wa.greet' });
    const p = page('viewer');
    // Opening the page starts the scraping (every 5 s); then some traffic over two intervals.
    await p.goto(`${base}/traffic?cluster=${cluster}`);
    const until = Date.now() + 6000;
    let sent = 0;
    while (Date.now() < until) {
      expect((await fetch(`http://127.0.0.1:${serverPort}/greet/n${sent++}`)).status).toBe(200);
      if (sent % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const figure = p.locator('[data-chart] figure', { hasText: 'Requests per second' });
    await figure.locator('canvas').waitFor({ timeout: 15_000 });
    await expect(p.locator('[data-chart] figcaption').allTextContents()).resolves.toEqual(expect.arrayContaining(['Requests per second, by channel route', 'p99 latency, by channel route']));
    await expect(figure.textContent()).resolves.toContain('/greet/:name');
    const traffic = await api.client.getTraffic(cluster);
    expect(traffic.routes.find((r) => r.route === '/greet/:name')!.requestsPerSecond.some((v) => v > 1)).toBe(true);
  });

  it('passes axe (no serious or critical violation) on each page at desktop width and at 375 px', async () => {
    // Contexts of their own: axe is injected as an inline script, which the pages' CSP (rightly) refuses.
    const anonymous = await browser.newContext({ bypassCSP: true });
    // The admin sees every control a page has (a viewer sees a subset of it).
    const signedIn = [await signedInContext('admin', true)];
    try {
      const login = await anonymous.newPage();
      for (const width of [1280, 375]) {
        await login.setViewportSize({ width, height: 800 });
        await login.goto(`${base}/login`);
        await axe(login, `/login at ${width}`);
        for (const [n, role] of (['admin'] as const).entries()) {
          const p = signedIn[n]!.page;
          await p.setViewportSize({ width, height: 800 });
          for (const url of ['/', `/services?cluster=${cluster}`, `/services/wa.greet?cluster=${cluster}`, `/traffic?cluster=${cluster}`]) {
            await p.goto(`${base}${url}`);
            await axe(p, `${url} as ${role} at ${width}`);
          }
        }
      }
    } finally {
      await anonymous.close();
      await Promise.all(signedIn.map((s) => s.context.close()));
    }
  });

  it('serves pages with the security headers and no inline script or style, and keeps /metrics and /healthz open', async () => {
    const response = await page('viewer').goto(`${base}/`);
    const headers = response!.headers();
    expect(headers['content-security-policy']).toBe("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['cache-control']).toBe('no-store');
    const text = await response!.text();
    expect(text).not.toMatch(/<script>|\sstyle="|\son[a-z]+="/);
    expect(text).not.toContain(cp.adminToken);
    expect(cspErrors).toEqual([]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    await eventually(
      () => fetch(`${base}/assets/admin.js`).then((r) => r.text()),
      (js) => js.length > 0 && js.length < 100_000,
    );
  });
});
