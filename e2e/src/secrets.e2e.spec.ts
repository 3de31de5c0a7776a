import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, cleanRedisPrefix, freePort, ROOT, runCli, startControlPlane, startServer, uniqueName, type AppProcess, type ControlPlaneHandle } from '@laneway/testkit';

// Secrets at rest through the built apps: the CLI, a control plane process and data-plane servers.
describe('stored secrets: sealed on disk, in the clear only in the servers memory, rotated by the CLI', () => {
  const prefix = uniqueName('lwsec');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-secrets-e2e-'));
  const secret = `LWE2E-hs256-${randomBytes(16).toString('hex')}`;
  let cp: ControlPlaneHandle;
  let api: Api;
  let env: Record<string, string>;
  const servers: AppProcess[] = [];
  const serverHome = mkdtempSync(path.join(os.tmpdir(), 'laneway-secrets-e2e-home-'));
  const startedAt = Date.now();
  const controlPlanes: ControlPlaneHandle[] = [];

  const keyring = (): { current: string; keys: { id: string; key: string }[] } =>
    JSON.parse(readFileSync(path.join(dataDir, 'secret-keys.json'), 'utf8')) as { current: string; keys: { id: string; key: string }[] };

  const startCp = async (): Promise<void> => {
    // LANEWAY_ADMIN_TOKEN '': generated into the data directory, where the CLI finds it.
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LANEWAY_ADMIN_TOKEN: '', LOG_LEVEL: 'trace' });
    controlPlanes.push(cp);
    api?.close();
    // Logged only when generated: after a restart, read from the file as the CLI does.
    api = new Api(cp.address, cp.adminToken || readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim());
    env = { LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_DATA_DIR: dataDir };
  };

  const startReplica = async (name: string): Promise<number> => {
    const httpPort = await freePort();
    servers.push(
      await startServer({
        LANEWAY_CONTROL_PLANE: cp.address,
        LANEWAY_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        LANEWAY_SERVER_NAME: name,
        LANEWAY_QUEUE_PREFIX: prefix,
        LANEWAY_JOIN_TOKEN: await api.joinToken('default'),
        LOG_LEVEL: 'trace',
        // Anything a server would write to its home or temporary directory lands here, to be searched.
        HOME: serverHome,
        TMPDIR: serverHome,
      }),
    );
    return httpPort;
  };

  const token = (key: string): Promise<string> =>
    new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://id.example').setAudience('laneway').setExpirationTime('2m').sign(new TextEncoder().encode(key));
  const greet = async (port: number, key: string): Promise<number> =>
    (await fetch(`http://127.0.0.1:${port}/greet/ada`, { method: 'POST', headers: { authorization: `Bearer ${await token(key)}`, 'content-type': 'application/json' }, body: '{}' })).status;

  beforeAll(async () => {
    await startCp();
  });

  afterAll(async () => {
    api?.close();
    for (const s of servers) await s.stop();
    for (const c of controlPlanes) await c.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(serverHome, { recursive: true, force: true });
  });

  /** Files under `dir` (not node_modules or .git) changed since the test started. */
  const changedFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === '.git' ? [] : changedFiles(full);
      try {
        return entry.isFile() && statSync(full).mtimeMs >= startedAt ? [full] : [];
      } catch {
        return [];
      }
    });

  it('checks JWTs on servers with the secret, never writes it to disk or logs, and keeps working across rotate-key and a restart', async () => {
    expect(statSync(path.join(dataDir, 'secret-keys.json')).mode & 0o777).toBe(0o600);
    const firstKey = keyring().current;
    const port1 = await startReplica('replica-1');
    expect((await runCli(['deploy', 'examples/hello.ts'], env)).code).toBe(0);
    await api.createSecurity('default', { name: 'sso', jwt: { hs256Secret: secret, publicKeyPem: '', issuer: 'https://id.example', audience: 'laneway', secretSet: false } });
    await api.putChannel('default', { name: 'greet', method: 'POST', path: '/greet/:name', service: 'hello.greet', security: 'sso' });
    expect(await greet(port1, secret)).toBe(200);
    expect(await greet(port1, `${secret}-wrong`)).toBe(401);

    const shown = await runCli(['security', 'show', 'sso', '--json'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('"secretSet": true');
    expect(shown.stdout).not.toContain(secret);

    const rotated = await runCli(['secrets', 'rotate-key'], env);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const match = /^secret key ([0-9a-f]{16}) is current: re-encrypted 1 stored secret\n$/.exec(rotated.stdout);
    expect(match, rotated.stdout).not.toBeNull();
    expect(match![1]).not.toBe(firstKey);
    expect(keyring().current).toBe(match![1]);
    expect(await greet(port1, secret)).toBe(200);

    // A restarted control plane opens the values with its keyring file; a new server gets the secret.
    await cp.process.stop();
    await startCp();
    const port2 = await startReplica('replica-2');
    expect(await greet(port2, secret)).toBe(200);
    expect(await greet(port2, `${secret}-wrong`)).toBe(401);
    const again = await runCli(['secrets', 'rotate-key', '--json'], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ keyId: keyring().current, reEncrypted: 1 });

    // Nowhere in the data directory, nor in any process's output; no key in any output either.
    const onDisk = Buffer.concat(readdirSync(dataDir).map((f) => readFileSync(path.join(dataDir, f))));
    expect(onDisk.includes(Buffer.from(secret))).toBe(false);
    // The servers (cwd: the repository) wrote it nowhere: no file changed since the start holds it.
    for (const file of [...changedFiles(ROOT), ...changedFiles(serverHome)]) {
      expect(readFileSync(file).includes(Buffer.from(secret)), file).toBe(false);
    }
    const keys = keyring().keys.map((k) => k.key);
    expect(keys).toHaveLength(3);
    const outputs = [...controlPlanes.map((c) => c.process), ...servers].map((p) => p.output.join('\n')).join('\n') + rotated.stdout + again.stdout + shown.stdout;
    expect(outputs).toContain('secret key rotated');
    for (const forbidden of [secret, ...keys]) expect(outputs).not.toContain(forbidden);
  });
});
