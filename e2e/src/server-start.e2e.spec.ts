import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanRedisPrefix,
  eventually,
  freePort,
  runCli,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

/** What a replica started by hand meets first: its join token, its channel address, and what `servers` shows. */
describe('starting a server replica', () => {
  const prefix = uniqueName('lwstart');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-start-e2e-'));
  const started: AppProcess[] = [];
  let cp: ControlPlaneHandle;
  let env: Record<string, string>;
  let joinToken: string;

  const server = async (extra: Record<string, string>, waitUntilServing = true): Promise<AppProcess> => {
    const proc = await startServer({ LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_QUEUE_PREFIX: prefix, ...extra }, waitUntilServing);
    started.push(proc);
    return proc;
  };

  beforeAll(async () => {
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LANEWAY_ADMIN_TOKEN: '' });
    env = { LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_DATA_DIR: dataDir };
    joinToken = (await runCli(['cluster', 'token', 'default'], env)).stdout.trim();
    expect(joinToken).toMatch(/^lwj_/);
  });

  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start without a join token, naming the variable and the command that prints it', async () => {
    const proc = await server({ LANEWAY_SERVER_NAME: 'no-token' }, false);
    const began = Date.now();
    expect(await proc.waitForExit()).toBe(1);
    expect(Date.now() - began).toBeLessThan(10_000);
    const said = proc.output.join('\n');
    expect(said).toContain('LANEWAY_JOIN_TOKEN is not set');
    expect(said).toContain('npx laneway cluster token default');
  });

  it('stops at once with a wrong join token instead of retrying forever', async () => {
    const proc = await server({ LANEWAY_SERVER_NAME: 'wrong-token', LANEWAY_JOIN_TOKEN: 'lwj_not-the-token' }, false);
    expect(await proc.waitForExit()).toBe(1);
    const said = proc.output.join('\n');
    expect(said).toContain('refused this server (UNAUTHENTICATED');
    expect(said).toContain("check LANEWAY_JOIN_TOKEN: print cluster 'default's token with `npx laneway cluster token default`");
    expect(proc.lines.filter((l) => l.msg === 'sync stream lost; reconnecting')).toEqual([]);
    const listed = await runCli(['servers', '--json'], env);
    expect(JSON.parse(listed.stdout).servers ?? []).toEqual([]);
  });

  it('shows where each server answers channels, and a second replica on a taken address fails naming LANEWAY_HTTP_ADDR', async () => {
    const port = await freePort();
    await server({ LANEWAY_SERVER_NAME: 'replica-1', LANEWAY_JOIN_TOKEN: joinToken, LANEWAY_HTTP_ADDR: `127.0.0.1:${port}` });
    const clash = await server({ LANEWAY_SERVER_NAME: 'replica-2', LANEWAY_JOIN_TOKEN: joinToken, LANEWAY_HTTP_ADDR: `127.0.0.1:${port}` }, false);
    expect(await clash.waitForExit()).toBe(1);
    expect(clash.output.join('\n')).toContain(`LANEWAY_HTTP_ADDR=127.0.0.1:${port}: the address is already in use (another replica on this host?)`);

    // Port 0: any free port, and the server reports the one it bound.
    const any = await server({ LANEWAY_SERVER_NAME: 'replica-3', LANEWAY_JOIN_TOKEN: joinToken, LANEWAY_HTTP_ADDR: '127.0.0.1:0' });
    const servers = await runCli(['servers'], env);
    expect(servers.code).toBe(0);
    expect(servers.stdout).toContain('CHANNELS AT');
    expect(servers.stdout).toMatch(new RegExp(`replica-1 +yes +no +127\\.0\\.0\\.1:${port} `));
    const line = servers.stdout.split('\n').find((l) => l.startsWith('replica-3'));
    const bound = /127\.0\.0\.1:(\d+)/.exec(line ?? '')?.[1];
    expect(Number(bound)).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${bound}/healthz`);
    expect(health.status).toBe(200);
    await any.stop();
  });

  it('says so when no server that applied a channel change listens for channels', async () => {
    await Promise.all(started.splice(0).map((p) => p.stop()));
    await server({ LANEWAY_SERVER_NAME: 'worker-only', LANEWAY_JOIN_TOKEN: joinToken, LANEWAY_HTTP_ADDR: 'off' });
    const deployed = await runCli(['deploy', 'examples/hello.ts'], env);
    expect(deployed.code).toBe(0);
    const created = await runCli(['channel', 'create', 'greet', '--method', 'POST', '--path', '/greet/:name', '--service', 'hello.greet'], env);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain('warning: none of the 1 server that applied this change listens for channels (LANEWAY_HTTP_ADDR=off');

    // Removed once it is stopped; refused while it runs.
    const refused = await runCli(['server', 'remove', 'worker-only'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("server 'worker-only' is connected");
    await Promise.all(started.splice(0).map((p) => p.stop()));
    await eventually(
      () => runCli(['servers', '--json'], env),
      (r) => JSON.parse(r.stdout).servers.every((s: { connected: boolean }) => !s.connected),
    );
    const removed = await runCli(['server', 'remove', 'worker-only'], env);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed server worker-only from cluster default\n' });
    const listed = await runCli(['servers', '--json'], env);
    expect((JSON.parse(listed.stdout).servers ?? []).map((s: { name: string }) => s.name)).not.toContain('worker-only');
  });
});
