import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultGrpcPort } from './commands/dev';
import { devJson, followUpEnv, formatDevBanner, type DevCluster } from './dev-banner';
import { checkPortsFree, checkRedisReachable } from './dev-checks';
import { findDevEntryPoints } from './dev-entries';
import { formatPartLine } from './dev-log';
import { parseCommandLine } from './program';

const cwd = '/home/ada/project';

const dev: DevCluster = {
  cluster: 'default',
  grpcAddress: '127.0.0.1:50051',
  webAdminUrl: 'http://127.0.0.1:8090/',
  channelsUrl: 'http://127.0.0.1:8080/',
  serverName: 'dev-server',
  dataDir: `${cwd}/.laneway`,
  adminTokenFile: `${cwd}/.laneway/admin-token`,
  logFiles: {
    controlPlane: `${cwd}/.laneway/logs/control-plane.log`,
    server: `${cwd}/.laneway/logs/server.log`,
  },
  pids: { controlPlane: 10, server: 11 },
};

function parsed(argv: string[]): unknown {
  const sink = { write: () => true };
  const line = parseCommandLine(argv, { stdout: sink, stderr: sink });
  if (line.kind !== 'command') throw new Error(`not a command: ${argv.join(' ')}`);
  return line.command.args;
}

function refused(argv: string[]): string {
  let stderr = '';
  const line = parseCommandLine(argv, {
    stdout: { write: () => true },
    stderr: { write: (t: string) => (stderr += t) },
  });
  expect(line).toEqual({ kind: 'exit', code: 2 });
  return stderr;
}

describe('laneway dev command line', () => {
  it('has defaults for every port, and takes 0 for any free port', () => {
    expect(parsed(['dev'])).toEqual({
      dataDir: undefined,
      grpcPort: undefined,
      httpPort: 8080,
      adminPort: 8090,
      queuePrefix: undefined,
    });
    expect(
      parsed([
        'dev',
        '--grpc-port',
        '0',
        '--http-port',
        '0',
        '--admin-port',
        '9000',
        '--data-dir',
        'tmp/dev',
        '--queue-prefix',
        'dev_1',
      ]),
    ).toEqual({
      dataDir: 'tmp/dev',
      grpcPort: 0,
      httpPort: 0,
      adminPort: 9000,
      queuePrefix: 'dev_1',
    });
  });

  it('refuses a bad port or prefix, naming the flag', () => {
    expect(refused(['dev', '--http-port', '80800'])).toContain(
      "option '--http-port <PORT>' argument '80800' is invalid. Give a port from 0 (any free port) to 65535, e.g. --http-port 8080.",
    );
    expect(refused(['dev', '--grpc-port', 'x'])).toContain('e.g. --grpc-port 50051');
    expect(refused(['dev', '--queue-prefix', 'a:b'])).toContain(
      'Give letters, digits, - and _ only, e.g. --queue-prefix dev.',
    );
  });

  it('listens for gRPC where the CLI already looks when that is one loopback address', () => {
    expect(defaultGrpcPort(['127.0.0.1:50051'])).toBe(50051);
    expect(defaultGrpcPort(['localhost:6000'])).toBe(6000);
    expect(defaultGrpcPort(['[::1]:6001'])).toBe(6001);
    expect(defaultGrpcPort(['cp.example.com:6000'])).toBe(50051);
    expect(defaultGrpcPort(['127.0.0.1:6000', '127.0.0.1:6001'])).toBe(50051);
  });
});

describe('the banner', () => {
  it('says where everything is, how to sign in and what to try; no variable needed with the defaults', () => {
    expect(formatDevBanner(dev, { cwd, env: {}, hasExample: true })).toBe(
      [
        "Laneway dev cluster 'default' is up. Ctrl-C stops it; its data stays in .laneway for the next run.",
        '',
        '  Web admin   http://127.0.0.1:8090/',
        '  Sign in     user admin, password: the admin token in .laneway/admin-token until you change it (cat .laneway/admin-token)',
        '  gRPC API    127.0.0.1:50051',
        '  Channels    http://127.0.0.1:8080/  (server dev-server)',
        '  Logs        .laneway/logs/control-plane.log, .laneway/logs/server.log',
        '',
        'Try it from another terminal, in this directory:',
        '',
        '  npx laneway deploy examples/hello.ts',
        `  npx laneway invoke hello.greet --data '{"name":"Ada"}'`,
        '  npx laneway channel create greet --method POST --path /greet/:name --service hello.greet',
        '  curl -X POST http://127.0.0.1:8080/greet/Ada',
        '',
      ].join('\n'),
    );
  });

  it('exports what the CLI would not find by itself', () => {
    const elsewhere = {
      ...dev,
      grpcAddress: '127.0.0.1:6000',
      cluster: 'dev',
      dataDir: `${cwd}/tmp/dev`,
      adminTokenFile: `${cwd}/tmp/dev/admin-token`,
    };
    expect(followUpEnv(elsewhere, { cwd, env: {} })).toEqual({
      LANEWAY_CONTROL_PLANE: '127.0.0.1:6000',
      LANEWAY_CLUSTER: 'dev',
      LANEWAY_DATA_DIR: 'tmp/dev',
    });
    // This terminal's variables say otherwise: the other terminal would take them too.
    expect(
      followUpEnv(dev, {
        cwd,
        env: { LANEWAY_CONTROL_PLANE: 'cp:1', LANEWAY_CLUSTER: 'prod', LANEWAY_DATA_DIR: '/srv/laneway' },
      }),
    ).toEqual({
      LANEWAY_CONTROL_PLANE: '127.0.0.1:50051',
      LANEWAY_CLUSTER: 'default',
      LANEWAY_DATA_DIR: '.laneway',
    });
    // LANEWAY_TOKEN would win over the token file.
    expect(followUpEnv(dev, { cwd, env: { LANEWAY_TOKEN: 'lwt_other' } })).toEqual({
      LANEWAY_TOKEN: '"$(cat .laneway/admin-token)"',
    });
    // LANEWAY_ADMIN_TOKEN: there is no file.
    expect(followUpEnv({ ...dev, adminTokenFile: undefined }, { cwd, env: {} })).toEqual({
      LANEWAY_TOKEN: '"$LANEWAY_ADMIN_TOKEN"',
    });
    const banner = formatDevBanner(
      { ...dev, dataDir: '/var/tmp/dev', adminTokenFile: '/var/tmp/dev/admin-token' },
      { cwd, env: {}, hasExample: false },
    );
    expect(banner).toContain(
      '\n  export LANEWAY_DATA_DIR=/var/tmp/dev\n  npx laneway deploy PATH/TO/SERVICES\n',
    );
    expect(banner).toContain('(cat /var/tmp/dev/admin-token)');
  });

  it('is one object with --json', () => {
    expect(devJson(dev, { cwd, env: {} })).toEqual({
      cluster: 'default',
      webAdmin: 'http://127.0.0.1:8090/',
      grpc: '127.0.0.1:50051',
      channels: 'http://127.0.0.1:8080/',
      server: 'dev-server',
      dataDir: `${cwd}/.laneway`,
      adminTokenFile: `${cwd}/.laneway/admin-token`,
      logs: dev.logFiles,
      pids: { controlPlane: 10, server: 11 },
      env: {},
    });
  });
});

describe("the parts' lines on the terminal", () => {
  const time = Date.UTC(2026, 11, 6, 18, 2, 11);
  const clock = new Date(time).toTimeString().slice(0, 8);

  it('summarises a pino line: time, level, message, the other fields', () => {
    const line = JSON.stringify({
      level: 30,
      time,
      pid: 1,
      hostname: 'h',
      name: 'control-plane',
      msg: 'control plane listening',
      port: 50051,
      store: 'sqlite:/a b',
    });
    expect(formatPartLine('control-plane', 13, line)).toBe(
      `control-plane | ${clock} info  control plane listening  port=50051 store="sqlite:/a b"`,
    );
  });

  it("shows an error's message (the stack stays in the file), leaves out the fields asked, and pads the name", () => {
    const line = JSON.stringify({
      level: 50,
      time,
      msg: 'push failed',
      cluster: 'default',
      err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' },
    });
    expect(formatPartLine('server', 13, line, new Set(['cluster']))).toBe(
      `server        | ${clock} error push failed  err=boom`,
    );
  });

  it('passes anything else through, and cuts long values', () => {
    expect(formatPartLine('server', 6, 'server failed to start: no')).toBe(
      'server | server failed to start: no',
    );
    expect(formatPartLine('server', 6, '{"not":"pino"}')).toBe('server | {"not":"pino"}');
    const long = formatPartLine('server', 6, JSON.stringify({ level: 40, msg: 'm', list: 'x'.repeat(500) }));
    expect(long).toBe(`server | warn  m  list=${'x'.repeat(159)}…`);
  });
});

describe('before anything starts', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the built parts beside the CLI, or says how to build them', () => {
    const dist = mkdtempSync(path.join(os.tmpdir(), 'laneway-dev-spec-'));
    dirs.push(dist);
    for (const app of ['cli', 'control-plane']) mkdirSync(path.join(dist, app));
    writeFileSync(path.join(dist, 'control-plane', 'main.js'), '');
    expect(() => findDevEntryPoints(path.join(dist, 'cli'))).toThrow(
      `cannot find the server (${path.join(dist, 'server', 'main.js')}, or the package laneway-server). In the repository, build them: npx nx run-many -t build -p control-plane server cli`,
    );
    mkdirSync(path.join(dist, 'server'));
    writeFileSync(path.join(dist, 'server', 'main.js'), '');
    expect(findDevEntryPoints(path.join(dist, 'cli'))).toEqual({
      controlPlane: path.join(dist, 'control-plane', 'main.js'),
      server: path.join(dist, 'server', 'main.js'),
    });
  });

  it('finds them as the installed packages beside the CLI package (npm run package)', () => {
    const project = mkdtempSync(path.join(os.tmpdir(), 'laneway-dev-spec-'));
    dirs.push(project);
    for (const pkg of ['laneway-cli', 'laneway-control-plane', 'laneway-server']) {
      mkdirSync(path.join(project, 'node_modules', pkg), { recursive: true });
      writeFileSync(
        path.join(project, 'node_modules', pkg, 'package.json'),
        JSON.stringify({ name: pkg, main: 'main.js' }),
      );
      writeFileSync(path.join(project, 'node_modules', pkg, 'main.js'), '');
    }
    expect(findDevEntryPoints(path.join(project, 'node_modules', 'laneway-cli'))).toEqual({
      controlPlane: path.join(project, 'node_modules', 'laneway-control-plane', 'main.js'),
      server: path.join(project, 'node_modules', 'laneway-server', 'main.js'),
    });
  });

  it('refuses a taken port naming it and its flag, and two flags on one port', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      await expect(
        checkPortsFree('127.0.0.1', [{ port, flag: '--admin-port', what: 'the web admin' }]),
      ).rejects.toThrow(
        `port ${port} (the web admin) is already in use on 127.0.0.1: stop what listens there, or give another port with --admin-port, e.g. --admin-port ${port + 1}`,
      );
      await expect(
        checkPortsFree('127.0.0.1', [
          { port: 9000, flag: '--http-port', what: 'channels' },
          { port: 9000, flag: '--admin-port', what: 'the web admin' },
        ]),
      ).rejects.toThrow('--http-port and --admin-port are both 9000: give each its own port');
      // Port 0 is any free port: never checked, never a clash.
      await expect(
        checkPortsFree('127.0.0.1', [
          { port: 0, flag: '--a', what: 'a' },
          { port: 0, flag: '--b', what: 'b' },
        ]),
      ).resolves.toBeUndefined();
    } finally {
      taken.close();
    }
  });

  it('says what to do when Redis cannot be reached', async () => {
    // A port that was free a moment ago: nothing answers there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    await expect(checkRedisReachable(`redis://127.0.0.1:${port}`)).rejects.toThrow(
      `cannot reach Redis at redis://127.0.0.1:${port} (ECONNREFUSED): laneway dev needs Redis 6.2+ for the lanes; start one (e.g. redis-server), or point REDIS_URL at one`,
    );
    await expect(checkRedisReachable('nonsense')).rejects.toThrow(
      'REDIS_URL=nonsense: not a URL; give redis://HOST:PORT',
    );
  });
});
