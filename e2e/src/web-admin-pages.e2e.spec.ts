import { Role } from '@laneway/proto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, DESKTOP, eventually, launchChromium, PHONE, signIn, startCluster, uniqueName, type TestCluster } from '@laneway/testkit';

// The web admin's channels, security, connections, schedules, failed jobs, mirroring, audit and users
// pages in Debian's chromium: one control plane, one server and one browser for the file; the admin
// and a viewer each sign in once (own context) and their pages are reused.

const services = `
import { defineService } from '@laneway/sdk';

export const hello = defineService({
  name: 'web.hello',
  handle(input: { name?: string }, ctx) {
    return { hello: input.name ?? 'world', server: ctx.server };
  },
});

export const tick = defineService({
  name: 'web.tick',
  handle() {
    return { ticked: true };
  },
});

export const fail = defineService({
  name: 'web.fail',
  attempts: 1,
  handle(input: { order: number }) {
    throw new Error('downstream refused order ' + input.order);
  },
});
`;

const VIEWER_PASSWORD = 'viewer-password-123';
const API_KEY = 'sekret-api-key-7f3a9c';

describe('web admin pages in a browser', () => {
  let tc: TestCluster;
  let browser: Browser;
  let base: string;
  let admin: Page;
  let viewer: Page | undefined;
  const viewerName = uniqueName('vw');

  const flash = (p: Page): Promise<string> => p.locator('.flash').innerText();
  const url = (path: string): string => `${path}${path.includes('?') ? '&' : '?'}cluster=${encodeURIComponent(tc.cluster)}`;

  beforeAll(async () => {
    const started = Promise.all([startCluster({ servers: ['s1'], http: true, name: 'lwwebp' }), launchChromium()]);
    [tc, browser] = await started;
    base = `http://127.0.0.1:${tc.cp.httpPort!}`;
    await tc.api.deploy(tc.cluster, [{ path: 'web/services.ts', content: services }]);
    admin = (await signIn(browser, base, 'admin', tc.cp.adminToken)).page;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await tc?.stop();
  });

  it('creates a channel in the browser and calls it, there ("try it") and from outside', async () => {
    await admin.goto(url('/channels'));
    await admin.fill('#ch-name', 'web-hello');
    await admin.selectOption('#ch-method', 'POST');
    await admin.fill('#ch-path', '/hello');
    await admin.fill('#ch-service', 'web.hello');
    await admin.click('form[aria-label="New channel"] button[type=submit]');
    expect(await flash(admin)).toContain('Created the channel web-hello (revision');
    expect(new URL(admin.url()).pathname).toBe('/channels/web-hello');

    await admin.fill('#try-body', '{"name":"browser"}');
    await admin.click('form[aria-label="Try the channel"] button[type=submit]');
    const tried = await flash(admin);
    expect(tried).toMatch(/POST \/hello on s1 \(127\.0\.0\.1:\d+\): 200/);
    expect(tried).toContain('"hello":"browser"');

    const direct = await fetch(`http://127.0.0.1:${tc.httpPorts[0]!}/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"curl"}' });
    expect(await direct.json()).toMatchObject({ hello: 'curl', server: 's1' });

    // "Try it" reaches only the channel's own route.
    await admin.fill('#try-path', '/elsewhere');
    await admin.click('form[aria-label="Try the channel"] button[type=submit]');
    expect(await flash(admin)).toContain("path '/elsewhere' does not match the channel's path /hello");
  });

  it('creates an API-key security definition whose key never comes back to the browser', async () => {
    await admin.goto(url('/security'));
    await admin.fill('#sec-name', 'web-key');
    await admin.fill('#sec-key', API_KEY);
    await admin.click('form[aria-label="New security definition"] button[type=submit]');
    expect(await flash(admin)).toContain('Created the security definition web-key');
    expect(await admin.locator('tr', { hasText: 'web-key' }).innerText()).toMatch(/header x-api-key, key\s+set/);
    await admin.goto(url('/security/web-key'));
    expect(await admin.content()).not.toContain(API_KEY);
  });

  it('creates a Redis connection and tests it: each server answers', async () => {
    await admin.goto(url('/connections') + '&kind=redis');
    await admin.fill('#cn-name', 'web-redis');
    await admin.fill('#cn-url', 'redis://127.0.0.1:6379');
    await admin.click('form[aria-label="New connection"] button[type=submit]');
    expect(await flash(admin)).toContain('Created the connection web-redis');
    await admin.click('button:text-is("Test web-redis")');
    const result = await flash(admin);
    expect(result).toContain('Test of web-redis: 1 of 1 servers connected.');
    expect(result).toMatch(/s1: ok in \d+ ms/);

    await admin.goto(url('/connections/web-redis'));
    await admin.fill('#cn-prefix', 'web:');
    await admin.click('form[aria-label="Edit the connection"] button[type=submit]');
    expect(await flash(admin)).toContain('Saved the connection web-redis');
    expect((await tc.api.getConnection(tc.cluster, 'web-redis')).spec?.redis).toMatchObject({ url: 'redis://127.0.0.1:6379', keyPrefix: 'web:', passwordSet: false });
  });

  it('pauses, resumes and runs a schedule now; the run shows among its last runs', async () => {
    await tc.api.putSchedule(tc.cluster, { name: 'web-hourly', service: 'web.tick', intervalMs: 3_600_000 });
    await admin.goto(url('/schedules'));
    const row = admin.locator('tr[data-schedule="web-hourly"]');
    expect(await row.innerText()).toContain('active');
    await admin.click('button:text-is("Pause web-hourly")');
    expect(await flash(admin)).toContain('Paused web-hourly');
    expect(await row.innerText()).toContain('paused');
    await admin.click('button:text-is("Resume web-hourly")');
    expect(await flash(admin)).toContain('Resumed web-hourly');
    expect(await row.innerText()).toContain('active');
    await admin.click('button:text-is("Run web-hourly now")');
    expect(await flash(admin)).toMatch(/Started web-hourly now \(job .+\)/);
    await eventually(
      async () => {
        await admin.goto(url('/schedules'));
        return row.innerText();
      },
      (text) => /ok .*\(run now\) on s1/.test(text),
    );
  });

  it('retries a failed async job from the failed jobs page', async () => {
    const { jobId } = await tc.api.invokeAsync(tc.cluster, 'web.fail', { order: 7 });
    await eventually(() => tc.api.listFailedJobs(tc.cluster, 'web.fail'), (r) => r.jobs.some((j) => j.jobId === jobId));
    await admin.goto(url('/jobs'));
    const row = admin.locator(`tr[data-job="${jobId}"]`);
    expect(await row.innerText()).toContain('downstream refused order 7');
    await row.locator('button', { hasText: 'Retry' }).click();
    expect(await flash(admin)).toContain(`Queued ${jobId} (web.fail) again.`);
    // It runs again (and fails again: attempts were reset, then used).
    const again = await eventually(() => tc.api.getJob(tc.cluster, jobId), (j) => j.failedReason !== '' && Date.parse(j.finishedAt) > 0);
    expect(again.attemptsMade).toBe(1);
    // A token the API never gave is refused naming the field.
    await admin.goto(url('/jobs') + '&page_token=not-a-token');
    expect(await admin.locator('main').innerText()).toContain('INVALID_ARGUMENT: page_token');
  });

  it('shows a standalone cluster on the mirroring page, with no promote button', async () => {
    await admin.goto(url('/mirroring'));
    const main = await admin.locator('main').innerText();
    expect(main).toContain('standalone');
    expect(main).toContain('Not mirrored');
    expect(await admin.locator('button', { hasText: 'Promote' }).count()).toBe(0);
  });

  it('creates a viewer on the users page; the viewer sees no change buttons and a forced change is refused by the API', async () => {
    await admin.goto('/users');
    await admin.fill('#nu-name', viewerName);
    await admin.fill('#nu-password', VIEWER_PASSWORD);
    await admin.selectOption('#nu-role', 'viewer');
    await admin.click('form[aria-label="New user"] button[type=submit]');
    expect(await flash(admin)).toContain(`Created the user ${viewerName} (viewer).`);
    expect(await admin.locator(`tr[data-user="${viewerName}"]`).innerText()).toContain('viewer');
    expect((await tc.api.client.listUsers()).users.find((u) => u.username === viewerName)?.role).toBe(Role.ROLE_VIEWER);

    viewer = (await signIn(browser, base, viewerName, VIEWER_PASSWORD)).page;
    await viewer.goto(url('/channels'));
    expect(await viewer.locator('main').innerText()).toContain('web-hello');
    expect(await viewer.locator('main form[method=post]').count()).toBe(0);
    await viewer.goto(url('/schedules'));
    expect(await viewer.locator('main form[method=post]').count()).toBe(0);
    await viewer.goto(url('/users'));
    expect(await viewer.locator('h1').innerText()).toBe('Your account');

    const csrf = await viewer.locator('input[name=_csrf]').first().inputValue();
    const forced = await viewer.request.post(`${base}${url('/channels')}`, { form: { _csrf: csrf, _action: 'delete', cluster: tc.cluster, name: 'web-hello' }, headers: { origin: base } });
    expect(await forced.text()).toContain('PERMISSION_DENIED');
    expect((await tc.api.listChannels(tc.cluster)).channels.map((c) => c.name)).toContain('web-hello');
    // "Try it" has no RPC behind it: the page refuses a viewer's forced one itself.
    const tried = await viewer.request.post(`${base}${url('/channels')}`, { form: { _csrf: csrf, _action: 'try', cluster: tc.cluster, name: 'web-hello', path: '/web/hello' }, headers: { origin: base } });
    expect(await tried.text()).toContain('needs the operator role');
  });

  it("shows an operator the operator's buttons only: pause/resume/run, test, retry, try it; no create, edit or delete", async () => {
    const operatorName = uniqueName('op');
    await tc.api.client.createUser({ username: operatorName, password: 'operator-password-123', role: Role.ROLE_OPERATOR });
    const { page: operator, context } = await signIn(browser, base, operatorName, 'operator-password-123');
    try {
      const buttons = async (path: string): Promise<string[]> => {
        await operator.goto(url(path));
        return operator.locator('main form[method=post] button').allInnerTexts();
      };
      expect(await buttons('/schedules')).toEqual(['Pause web-hourly', 'Run web-hourly now']);
      expect(await buttons('/connections')).toEqual(['Test web-redis']);
      expect(await buttons('/channels')).toEqual([]);
      expect(await buttons('/channels/web-hello')).toEqual(['Send']);
      expect(await buttons('/security')).toEqual([]);
      expect((await buttons('/jobs')).every((b) => b.startsWith('Retry '))).toBe(true);
      // Its own tokens: the one this sign-in got (named login) can be revoked like any other.
      expect(await buttons('/users')).toEqual(['Change password', 'Revoke login', 'Create token']);
    } finally {
      await context.close();
    }
  });

  it('lists the changes just made in the audit log, filtered by cluster', async () => {
    await admin.goto(url('/audit'));
    const main = await admin.locator('main').innerText();
    for (const call of ['ChannelService/CreateChannel', 'SecurityService/CreateSecurityDefinition', 'ConnectionService/CreateConnection', 'ScheduleService/PauseSchedule', 'ScheduleService/ResumeSchedule', 'InvokeService/RetryJob']) {
      expect(main).toContain(call);
    }
    expect(main).toContain('web-hello');
    expect(main).toContain(`ChannelService/DeleteChannel`);
    expect(main).toContain('PERMISSION_DENIED');
  });

  it('has no serious or critical axe violation on any of these pages, at desktop width and at 375 px', async () => {
    const paths = ['/channels', '/channels/web-hello', '/security', '/security/web-key', '/connections', '/connections/web-redis', '/schedules', '/jobs', '/mirroring', '/audit', '/users'];
    const found: string[] = [];
    for (const size of [DESKTOP, PHONE]) {
      await admin.setViewportSize(size);
      for (const path of paths) {
        await admin.goto(path === '/users' || path === '/audit' ? path : url(path));
        for (const v of await axeViolations(admin)) found.push(`${path} at ${size.width} px: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.join(' ')}`);
      }
    }
    expect(found).toEqual([]);
    // The check can fail: an image without alt text on a page of this browser is critical to axe.
    const probe = await admin.context().newPage();
    await probe.setContent('<!doctype html><html lang="en"><title>probe</title><main><img src="data:,"></main></html>');
    expect((await axeViolations(probe)).map((v) => v.id)).toContain('image-alt');
    await probe.close();
  });
});
