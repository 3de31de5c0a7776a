import { status } from '@grpc/grpc-js';
import { ApplyOutcome } from '@laneway/proto';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  cleanRedisPrefix,
  DIST,
  REDIS_URL,
  ROOT,
  runCli,
  startControlPlane,
  startServer,
  uniqueName,
  type AppProcess,
  type ControlPlaneHandle,
} from '@laneway/testkit';

const echo = `
import { defineService } from '@laneway/sdk';

export default defineService({
  name: 'tls.echo',
  async handle(input: { value?: unknown }, ctx) {
    return { value: input.value, server: ctx.server };
  },
});
`;

function grpcError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: { code: number; details: string }) => err,
  );
}

/** Runs the built control plane until it exits by itself (or 20 s pass), for start-up refusals. */
function runControlPlaneToExit(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(DIST, 'control-plane/main.js')], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', REDIS_URL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the gRPC API over TLS with certificates the control plane generated', () => {
  const prefix = uniqueName('lwtls');
  const cluster = uniqueName('tls');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-tls-e2e-'));
  const otherDataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-tls-e2e-other-'));
  let cp: ControlPlaneHandle;
  // A second control plane, on a non-loopback address without TLS variables: TLS by default, another CA.
  let other: ControlPlaneHandle;
  let api: Api;
  let joinToken: string;
  const processes: AppProcess[] = [];

  beforeAll(async () => {
    [cp, other] = await Promise.all([
      // As in the README: a generated admin token, so the CLI finds the token and the CA in the data dir.
      startControlPlane({
        LANEWAY_DATA_DIR: dataDir,
        LANEWAY_QUEUE_PREFIX: prefix,
        LANEWAY_TLS: 'on',
        LANEWAY_ADMIN_TOKEN: '',
      }),
      startControlPlane({
        LANEWAY_DATA_DIR: otherDataDir,
        LANEWAY_QUEUE_PREFIX: `${prefix}-other`,
        LANEWAY_GRPC_ADDR: '0.0.0.0:0',
      }),
    ]);
    api = new Api(cp.address, cp.adminToken, { ca: cp.ca });
    await api.createCluster(cluster);
    joinToken = await api.joinToken(cluster);
  });

  afterAll(async () => {
    api?.close();
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([cp?.process.stop(), other?.process.stop()]);
    await cleanRedisPrefix(prefix);
    await cleanRedisPrefix(`${prefix}-other`);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherDataDir, { recursive: true, force: true });
  });

  const serverEnv = (name: string, extra: Record<string, string>): Record<string, string> => ({
    LANEWAY_CONTROL_PLANE: cp.address,
    LANEWAY_CLUSTER: cluster,
    LANEWAY_SERVER_NAME: name,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_JOIN_TOKEN: joinToken,
    ...extra,
  });

  it('generates a CA and a server certificate into its data directory, keys readable by the owner only', () => {
    expect(cp.tls).toBe('generated');
    expect(cp.caFile).toBe(path.join(dataDir, 'ca.pem'));
    expect(readFileSync(path.join(dataDir, 'tls', 'ca-cert.pem'), 'utf8')).toBe(cp.ca?.toString('utf8'));
    expect(statSync(path.join(dataDir, 'tls', 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dataDir, 'tls', 'server-key.pem')).mode & 0o777).toBe(0o600);
    const listening = cp.process.lines.find((l) => l.msg === 'control plane listening');
    expect(listening).toMatchObject({ tls: 'generated', caFile: cp.caFile });
    // Never a key in the log.
    expect(cp.process.output.join('\n')).not.toContain('PRIVATE KEY');
    expect(other.tls).toBe('generated');
    expect(other.ca?.equals(cp.ca ?? Buffer.alloc(0))).toBe(false);
  });

  it('serves a server that trusts its CA (LANEWAY_TLS_CA): deploy and invoke over TLS', async () => {
    const server = await startServer(serverEnv('tls-1', { LANEWAY_TLS_CA: cp.caFile ?? '' }));
    processes.push(server);

    const deployed = await api.deploy(cluster, [{ path: 'tls/echo.ts', content: echo }]);
    expect(deployed.servers.map((s) => [s.server, s.outcome])).toEqual([
      ['tls-1', ApplyOutcome.APPLY_OUTCOME_ACKED],
    ]);
    const invoked = await api.invoke(cluster, 'tls.echo', { value: 'over tls' });
    expect(JSON.parse(invoked.outputJson)).toEqual({ value: 'over tls', server: 'tls-1' });
    expect((await api.listServers(cluster)).servers.map((s) => [s.name, s.connected])).toEqual([
      ['tls-1', true],
    ]);
    // grpc-js's DEP0123 warning (an IP address as TLS servername) is filtered out of the server's output.
    expect(server.output.join('\n')).not.toContain('DEP0123');
  });

  it('lets the CLI find the CA (and the admin token) in the data directory, or take LANEWAY_TLS_CA', async () => {
    const found = await runCli(['services'], {
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_CLUSTER: cluster,
    });
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
    expect(found.stdout).toContain('tls.echo');

    const given = await runCli(['services'], {
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_DATA_DIR: otherDataDir, // another control plane's CA there: LANEWAY_TLS_CA wins
      LANEWAY_TLS_CA: cp.caFile ?? '',
      LANEWAY_TOKEN: cp.adminToken,
      LANEWAY_CLUSTER: cluster,
    });
    expect(given.stderr).toBe('');
    expect(given.code).toBe(0);
    expect(given.stdout).toContain('tls.echo');

    const missing = await runCli(['services'], {
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_TLS_CA: path.join(dataDir, 'no-such-ca.pem'),
      LANEWAY_TOKEN: cp.adminToken,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `LANEWAY_TLS_CA=${path.join(dataDir, 'no-such-ca.pem')}: cannot read the CA file`,
    );
    expect(missing.stderr).toContain('ENOENT');
  });

  it('refuses a plaintext client', async () => {
    const plaintext = new Api(cp.address, cp.adminToken);
    try {
      const err = await grpcError(plaintext.getCluster('default'));
      expect(err.code).toBe(status.UNAVAILABLE);
    } finally {
      plaintext.close();
    }
    // A server without LANEWAY_TLS_CA does not join, and says what to set.
    const server = await startServer(serverEnv('tls-no-ca', {}), false);
    processes.push(server);
    const line = await server.waitForLog(
      (l) => typeof l.msg === 'string' && l.msg.includes('if it serves TLS, set LANEWAY_TLS_CA'),
    );
    expect(line).toMatchObject({ address: cp.address });
    await server.stop();
    // The CLI with no CA anywhere (an empty data dir) says what to set.
    const emptyDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-tls-e2e-empty-'));
    try {
      const cli = await runCli(['services', '--deadline', '5000'], {
        LANEWAY_CONTROL_PLANE: cp.address,
        LANEWAY_DATA_DIR: emptyDir,
        LANEWAY_TOKEN: cp.adminToken,
      });
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain(`UNAVAILABLE: cannot reach the control plane at ${cp.address}`);
      expect(cli.stderr).toContain('LANEWAY_TLS_CA');
    } finally {
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  it('refuses a client that trusts another CA, and says so', async () => {
    const wrongCa = new Api(cp.address, cp.adminToken, { ca: other.ca });
    try {
      const err = await grpcError(wrongCa.getCluster('default'));
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.details).toMatch(/unable to verify|certificate/i);
    } finally {
      wrongCa.close();
    }

    const cli = await runCli(['services', '--deadline', '5000'], {
      LANEWAY_CONTROL_PLANE: cp.address,
      LANEWAY_TLS_CA: other.caFile ?? '',
      LANEWAY_TOKEN: cp.adminToken,
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(`UNAVAILABLE: TLS connection to the control plane at ${cp.address} failed`);
    expect(cli.stderr).toContain(other.caFile ?? '');

    // A server trusting the other CA does not join, and logs the address and the CA file.
    const server = await startServer(
      serverEnv('tls-wrong-ca', { LANEWAY_TLS_CA: other.caFile ?? '' }),
      false,
    );
    processes.push(server);
    const line = await server.waitForLog(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('TLS connection to the control plane'),
    );
    expect(line).toMatchObject({ address: cp.address, caFile: other.caFile });
    expect(String(line.msg)).toContain(`LANEWAY_TLS_CA=${other.caFile ?? ''}`);
    expect((await api.listServers(cluster)).servers.map((s) => s.name)).not.toContain('tls-wrong-ca');
    await server.stop();
  });

  it('stops a server whose LANEWAY_TLS_CA file is missing, naming it', async () => {
    const missing = path.join(dataDir, 'missing-ca.pem');
    const server = await startServer(serverEnv('tls-missing-ca', { LANEWAY_TLS_CA: missing }), false);
    processes.push(server);
    const exitCode = await new Promise<number | null>((resolve) => {
      if (!server.alive) resolve(server.child.exitCode);
      else server.child.once('exit', (code) => resolve(code));
    });
    expect(exitCode).toBe(1);
    expect(server.output.join('\n')).toContain(
      `server failed to start: LANEWAY_TLS_CA=${missing}: cannot read the CA file (ENOENT)`,
    );
  });

  it('reuses the CA and the certificate on a restart', async () => {
    const caBefore = readFileSync(path.join(dataDir, 'tls', 'ca-cert.pem'));
    const certBefore = readFileSync(path.join(dataDir, 'tls', 'server-cert.pem'));
    const adminToken = cp.adminToken;
    await cp.process.stop();
    cp = await startControlPlane({
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_TLS: 'on',
      LANEWAY_ADMIN_TOKEN: adminToken,
    });
    expect(cp.tls).toBe('generated');
    expect(
      cp.process.lines.some(
        (l) =>
          l.msg === 'generated a TLS certificate authority' ||
          l.msg === 'generated the TLS server certificate',
      ),
    ).toBe(false);
    expect(readFileSync(path.join(dataDir, 'tls', 'ca-cert.pem')).equals(caBefore)).toBe(true);
    expect(readFileSync(path.join(dataDir, 'tls', 'server-cert.pem')).equals(certBefore)).toBe(true);
    // A new port: a new client, trusting the same CA.
    api.close();
    api = new Api(cp.address, cp.adminToken, { ca: cp.ca });
    expect((await api.getCluster(cluster)).name).toBe(cluster);
    // Restarted on loopback without TLS, it serves plaintext and withdraws the CA it published, so a
    // CLI on this host does not try TLS against it.
    await cp.process.stop();
    cp = await startControlPlane({
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_ADMIN_TOKEN: adminToken,
    });
    expect(cp.tls).toBe('off');
    expect(existsSync(path.join(dataDir, 'ca.pem'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'tls', 'ca-cert.pem'))).toBe(true);
    const cli = await runCli(['clusters'], { LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_DATA_DIR: dataDir });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain(cluster);
  });
});

describe('plaintext on a non-loopback address', () => {
  const prefix = uniqueName('lwplain');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-plain-e2e-'));

  afterAll(async () => {
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is refused with LANEWAY_TLS=off, naming the variables', async () => {
    const result = await runControlPlaneToExit({
      LANEWAY_GRPC_ADDR: '0.0.0.0:0',
      LANEWAY_TLS: 'off',
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_QUEUE_PREFIX: prefix,
      LANEWAY_ADMIN_TOKEN: 'e2e-admin-token-0123456789',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain(
      'control plane failed to start: invalid control-plane configuration: LANEWAY_GRPC_ADDR=0.0.0.0:0 is not a loopback address and LANEWAY_TLS=off',
    );
    expect(result.output).toContain('LANEWAY_TLS_CERT and LANEWAY_TLS_KEY');
    expect(result.output).toContain('LANEWAY_INSECURE=true');
  });

  it('starts with LANEWAY_INSECURE=true, warns, and serves plaintext', async () => {
    const cp = await startControlPlane({
      LANEWAY_GRPC_ADDR: '0.0.0.0:0',
      LANEWAY_TLS: 'off',
      LANEWAY_INSECURE: 'true',
      LANEWAY_DATA_DIR: dataDir,
      LANEWAY_QUEUE_PREFIX: prefix,
    });
    const api = new Api(cp.address, cp.adminToken);
    try {
      expect(cp.tls).toBe('off');
      expect(cp.caFile).toBeUndefined();
      expect(
        cp.process.lines.some(
          (l) =>
            typeof l.msg === 'string' && l.msg.startsWith('LANEWAY_INSECURE=true: serving gRPC in plaintext'),
        ),
      ).toBe(true);
      expect((await api.getCluster('default')).name).toBe('default');
    } finally {
      api.close();
      await cp.process.stop();
    }
  });
});
