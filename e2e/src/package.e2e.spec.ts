// A host without a checkout: `npm run package`'s server tarball installs into an empty directory from
// the npm registry (or its cache) and the installed `laneway-server` joins a control plane and runs
// services, with no repository on its module path. The CLI's tarball is installed and asked for its
// version and the cluster's servers. The control plane's is only packed and read, not installed:
// better-sqlite3 builds from source on this machine (about 2 minutes).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppProcess,
  Api,
  REDIS_URL,
  ROOT,
  cleanRedisPrefix,
  startControlPlane,
  uniqueName,
  type ControlPlaneHandle,
} from '@laneway/testkit';

const run = promisify(execFile);

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  engines?: Record<string, string>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const rootManifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };

/** The environment of an npm run by a user on the host: none of the npm_* variables of the npm running this test, no NODE_PATH. */
function hostEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'NODE_PATH' && k !== 'INIT_CWD'));
}

/** Packs one app from its build (dist/apps/<app>, built by the e2e target) into `out`; returns the tarball. */
async function pack(app: string, out: string): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'tools/package/package.mjs'), `apps/${app}`, '--out', out], { cwd: ROOT });
  const tarball = path.join(out, `laneway-${app}-${rootManifest.version}.tgz`);
  expect(stdout).toContain(`laneway-${app}-${rootManifest.version}.tgz`);
  return tarball;
}

async function install(tarball: string, dir: string): Promise<void> {
  mkdirSync(dir);
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--prefix', dir, tarball], { cwd: dir, env: hostEnv(), timeout: 50_000 });
}

async function packed(tarball: string): Promise<{ files: string[]; manifest: Manifest }> {
  const files = (await run('tar', ['tzf', tarball])).stdout.split('\n').filter(Boolean).sort();
  const manifest = JSON.parse((await run('tar', ['xzOf', tarball, 'package/package.json'])).stdout) as Manifest;
  return { files, manifest };
}

const service = `
import { defineService } from '@laneway/sdk';

export const hello = defineService({
  name: 'pkg.hello',
  async handle(input: { name: string }, ctx) {
    return { greeting: 'hello ' + input.name, server: ctx.server };
  },
});

export const square = defineService({
  name: 'pkg.square',
  lane: 'cpu',
  handle(input: { n: number }) {
    return { square: input.n * input.n };
  },
});
`;

describe('installable packages on a host without a checkout', () => {
  const prefix = uniqueName('lwpkg');
  const cluster = uniqueName('pkg');
  const work = mkdtempSync(path.join(os.tmpdir(), 'laneway-package-e2e-'));
  const out = path.join(work, 'packages');
  const serverHost = path.join(work, 'server-host');
  const cliHost = path.join(work, 'cli-host');
  let serverTarball: string;
  let cliTarball: string;
  let cp: ControlPlaneHandle | undefined;
  let api: Api | undefined;
  let server: AppProcess | undefined;

  beforeAll(async () => {
    [serverTarball, cliTarball] = await Promise.all([pack('server', out), pack('cli', out)]);
    const [control] = await Promise.all([
      startControlPlane({ LANEWAY_DATA_DIR: path.join(work, 'control-plane'), LANEWAY_QUEUE_PREFIX: prefix }),
      install(serverTarball, serverHost),
      install(cliTarball, cliHost),
    ]);
    cp = control;
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
  }, 110_000);

  afterAll(async () => {
    api?.close();
    await server?.stop();
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(work, { recursive: true, force: true });
  });

  it('packs the server as its bundle, a bin script and a package.json of its run-time dependencies at the lockfile versions', async () => {
    const { files, manifest } = await packed(serverTarball);
    expect(files).toEqual([
      'package/bin/laneway-server.js',
      'package/cpu-worker.js',
      'package/cpu-worker.js.map',
      'package/load-check-worker.js',
      'package/load-check-worker.js.map',
      'package/main.js',
      'package/main.js.map',
      'package/package.json',
    ]);
    expect(manifest).toMatchObject({ name: 'laneway-server', version: rootManifest.version, bin: { 'laneway-server': 'bin/laneway-server.js' } });
    expect(manifest.engines).toEqual(rootManifest.engines);
    expect(manifest.devDependencies).toBeUndefined();
    const deps = Object.entries(manifest.dependencies ?? {});
    // The packages the server needs at run time (pino was what `dist/apps/server` alone could not find);
    // none of the repository's tooling.
    expect(deps.map(([name]) => name)).toEqual(expect.arrayContaining(['pino', 'bullmq', 'ioredis', '@grpc/grpc-js', 'fastify']));
    for (const name of ['esbuild', 'vitest', 'nx', 'typescript', 'better-sqlite3', 'commander']) expect(manifest.dependencies).not.toHaveProperty(name);
    expect(deps.filter(([name]) => name.startsWith('@laneway/'))).toEqual([]);
    for (const [name, version] of deps) expect(`${name}@${version}`).toBe(`${name}@${lock.packages[`node_modules/${name}`]?.version}`);
  });

  it('installs into an empty directory with a clean `npm ls`', async () => {
    expect(existsSync(path.join(serverHost, 'node_modules/.bin/laneway-server'))).toBe(true);
    const ls = await run('npm', ['ls', '--all', '--prefix', serverHost], { cwd: serverHost, env: hostEnv() });
    expect(ls.stdout).toContain(`laneway-server@${rootManifest.version}`);
    // `npm ls` exits non-zero on a missing or invalid package (run() then throws); optional peers and
    // other platforms' binaries show as UNMET OPTIONAL DEPENDENCY, which is fine.
    expect(ls.stdout).not.toMatch(/UNMET DEPENDENCY|\binvalid\b|\bextraneous\b|\bmissing\b/);
  });

  it('runs laneway-server from the install: it joins the control plane and runs deployed services on both lanes', async () => {
    const joinToken = await api!.joinToken(cluster);
    const child = spawn(path.join(serverHost, 'node_modules/.bin/laneway-server'), [], {
      cwd: serverHost,
      // Only what a host's environment holds: the node binary on PATH and the server's variables; no NODE_PATH.
      env: {
        PATH: `${path.dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
        REDIS_URL,
        LANEWAY_CONTROL_PLANE: cp!.address,
        LANEWAY_CLUSTER: cluster,
        LANEWAY_SERVER_NAME: 'installed-1',
        LANEWAY_QUEUE_PREFIX: prefix,
        LANEWAY_JOIN_TOKEN: joinToken,
        LANEWAY_HTTP_ADDR: '127.0.0.1:0',
        LANEWAY_CPU_THREADS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = new AppProcess('installed server', child);
    await server.waitForLog((l) => l.msg === 'server serving');
    const listed = await api!.listServers(cluster);
    expect(listed.servers.map((s) => [s.name, s.connected])).toEqual([['installed-1', true]]);

    const deployed = await api!.deploy(cluster, [{ path: 'pkg/services.ts', content: service }]);
    expect(deployed.servers.map((s) => s.server)).toEqual(['installed-1']);
    const hello = await api!.invoke(cluster, 'pkg.hello', { name: 'host' });
    expect(JSON.parse(hello.outputJson)).toEqual({ greeting: 'hello host', server: 'installed-1' });
    const square = await api!.invoke(cluster, 'pkg.square', { n: 12 });
    expect(JSON.parse(square.outputJson)).toEqual({ square: 144 });
  });

  it('packs the control plane with its compile process and native dependencies (not installed here: better-sqlite3 builds from source)', async () => {
    const { files, manifest } = await packed(await pack('control-plane', out));
    expect(files).toEqual(expect.arrayContaining(['package/bin/laneway-control-plane.js', 'package/main.js', 'package/compile-worker.js', 'package/package.json']));
    expect(files.filter((f) => !/^package\/(bin\/)?[\w-]+\.js(\.map)?$/.test(f))).toEqual(['package/package.json']);
    expect(manifest).toMatchObject({ name: 'laneway-control-plane', bin: { 'laneway-control-plane': 'bin/laneway-control-plane.js' } });
    expect(manifest.engines).toEqual(rootManifest.engines);
    expect(manifest.devDependencies).toBeUndefined();
    const deps = Object.entries(manifest.dependencies ?? {});
    expect(deps.map(([name]) => name)).toEqual(expect.arrayContaining(['better-sqlite3', '@swc/core', 'kysely', 'pino']));
    expect(deps.filter(([name]) => name.startsWith('@laneway/') || name === 'esbuild' || name === 'commander')).toEqual([]);
    for (const [name, version] of deps) expect(`${name}@${version}`).toBe(`${name}@${lock.packages[`node_modules/${name}`]?.version}`);
  });

  it('installs the CLI as `laneway`, which prints its version and lists the installed server', async () => {
    const { manifest } = await packed(cliTarball);
    expect(manifest.bin).toEqual({ laneway: 'bin/laneway.js' });
    expect(manifest.devDependencies).toBeUndefined();
    expect(Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith('@laneway/'))).toEqual([]);
    const laneway = path.join(cliHost, 'node_modules/.bin/laneway');
    const env = { PATH: `${path.dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, LANEWAY_CONTROL_PLANE: cp!.address, LANEWAY_TOKEN: cp!.adminToken };
    expect((await run(laneway, ['--version'], { cwd: cliHost, env })).stdout).toBe(`${rootManifest.version}\n`);
    const servers = await run(laneway, ['servers', '--cluster', cluster], { cwd: cliHost, env });
    expect(servers.stdout).toMatch(/^installed-1 +yes /m);
  });
});
