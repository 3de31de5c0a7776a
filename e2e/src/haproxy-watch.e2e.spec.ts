// `laneway lb haproxy --watch` against Debian's real haproxy in master-worker mode and real servers:
// a server that joins the cluster is written into the file, HAProxy is reloaded (kill -USR2 to its
// master) and sends it requests; a drained server is `disabled` after its states were saved over the
// stats socket; a configuration haproxy -c refuses never replaces the file nor reloads; a control
// plane that dies (kill -9) leaves the file as it is; SIGTERM and SIGINT end the watch with exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST,
  ROOT,
  eventually,
  freePort,
  requireHaproxy,
  runCli,
  startCluster,
  startServer,
  stopChild,
  type TestCluster,
} from '@laneway/testkit';

const service = `
import { defineService } from '@laneway/sdk';
export default defineService({
  name: 'lbw.who',
  async handle(_input: unknown, ctx) {
    return { server: ctx.server };
  },
});
`;

/** HAProxy's whole answer to one command on its stats socket. */
function statsCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.createConnection({ path: socketPath }, () => socket.write(`${command}\n`));
    socket.setTimeout(2_000, () => socket.destroy(new Error('no answer')));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', (hadError) => hadError || resolve(answer));
  });
}

/** A running `laneway lb haproxy --watch`: its stderr lines as they come. */
interface Watch {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line (from the `from`th on) that matches; rejects after `ms` naming what it saw. */
  line(match: RegExp, ms?: number, from?: number): Promise<string>;
  /** Its exit code after `signal`. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

function startWatch(args: string[], env: Record<string, string>): Watch {
  const child = spawn(
    process.execPath,
    [path.join(DIST, 'cli/main.js'), 'lb', 'haproxy', '--watch', ...args],
    {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let buffer = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    async line(match, ms = 8_000, from = 0) {
      const until = Date.now() + ms;
      for (;;) {
        const found = lines.slice(from).find((l) => match.test(l));
        if (found !== undefined) return found;
        if (Date.now() > until || child.exitCode !== null)
          throw new Error(`no line matching ${match} within ${ms} ms; stderr:\n${lines.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

describe('laneway lb haproxy --watch with a real HAProxy', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-haproxy-watch-'));
  const file = path.join(dir, 'haproxy.cfg');
  const stateFile = path.join(dir, 'server-state');
  const reloadsFile = path.join(dir, 'reloads');
  let tc: TestCluster;
  let env: Record<string, string>;
  let haproxy: ChildProcess | undefined;
  const haproxyOutput: string[] = [];
  let watch: Watch | undefined;
  let broken: Watch | undefined;
  let lbPort: number;
  let common: string[];

  /** Answers through HAProxy until `until` holds (or `ms` pass): the servers that answered, '' for a failure. */
  const load = async (until: (servers: string[]) => boolean, ms: number): Promise<string[]> => {
    const servers: string[] = [];
    const deadline = Date.now() + ms;
    while (!until(servers) && Date.now() < deadline) {
      try {
        const response = await fetch(`http://127.0.0.1:${lbPort}/who`, {
          signal: AbortSignal.timeout(5_000),
        });
        const body = (await response.json().catch(() => ({}))) as { server?: string };
        servers.push(response.status === 200 ? (body.server ?? '') : '');
      } catch {
        servers.push('');
      }
    }
    return servers;
  };

  beforeAll(async () => {
    requireHaproxy();
    tc = await startCluster({ servers: 2, http: true, name: 'lwlbw' });
    env = {
      LANEWAY_CONTROL_PLANE: tc.cp.address,
      LANEWAY_TOKEN: tc.cp.adminToken,
      LANEWAY_CLUSTER: tc.cluster,
    };
    await tc.api.deploy(tc.cluster, [{ path: 'lbw.ts', content: service }]);
    await tc.api.putChannel(tc.cluster, { name: 'who', method: 'GET', path: '/who', service: 'lbw.who' });
    lbPort = await freePort();
    common = [
      '--out',
      file,
      '--bind',
      `127.0.0.1:${lbPort}`,
      '--state-file',
      stateFile,
      '--stats-socket',
      path.join(dir, 'admin.sock'),
    ];
    const written = await runCli(['lb', 'haproxy', ...common], env);
    expect(written.stderr).toBe('');
    // Master-worker mode: SIGUSR2 to the master (this process, -db keeps it in the foreground) reloads.
    haproxy = spawn('haproxy', ['-W', '-db', '-f', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      haproxyOutput.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      haproxyOutput.splice(0, Math.max(0, haproxyOutput.length - 100));
    };
    haproxy.stdout!.on('data', keep);
    haproxy.stderr!.on('data', keep);
    const both = await load((s) => s.includes('s1') && s.includes('s2'), 8_000);
    expect(new Set(both.filter(Boolean)), haproxyOutput.join('\n')).toEqual(new Set(['s1', 's2']));
  });

  afterAll(async () => {
    await watch?.stop('SIGKILL');
    await broken?.stop('SIGKILL');
    if (haproxy) await stopChild(haproxy);
    await tc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves an unchanged file alone, then writes a new server in, reloads HAProxy, and HAProxy sends it requests', async () => {
    const reloadCmd = `echo "$LANEWAY_LB_FILE" >> ${reloadsFile} && kill -USR2 ${haproxy!.pid}`;
    watch = startWatch([...common, '--interval', '200ms', '--reload-cmd', reloadCmd], env);
    await watch.line(/^watching: /);
    const before = readFileSync(file, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(watch.lines).toEqual([expect.stringMatching(/^watching: .* \(polling every 200ms\)/)]);
    expect(readFileSync(file, 'utf8')).toBe(before);

    const port = await freePort();
    tc.servers.push(
      await startServer({
        LANEWAY_CONTROL_PLANE: tc.cp.address,
        LANEWAY_CLUSTER: tc.cluster,
        LANEWAY_SERVER_NAME: 's3',
        LANEWAY_QUEUE_PREFIX: tc.prefix,
        LANEWAY_JOIN_TOKEN: tc.joinToken,
        LANEWAY_HTTP_ADDR: `127.0.0.1:${port}`,
      }),
    );
    await watch.line(/^reloaded \(exit 0\)$/);
    expect(watch.lines.slice(1)).toEqual([`+ s3 127.0.0.1:${port}`, `wrote ${file}`, 'reloaded (exit 0)']);
    expect(readFileSync(file, 'utf8')).toContain(`server s3 127.0.0.1:${port}\n`);
    expect(readFileSync(reloadsFile, 'utf8')).toBe(`${file}\n`);
    const sent = await load((s) => s.includes('s3'), 8_000);
    expect(sent, haproxyOutput.slice(-20).join('\n')).toContain('s3');
  });

  it('writes a drained server as disabled after saving the server states over the stats socket, and takes it back on resume', async () => {
    const from = watch!.lines.length;
    expect((await runCli(['drain', 's1'], env)).code).toBe(0);
    await watch!.line(/^reloaded/, 8_000, from);
    expect(watch!.lines.slice(from)).toEqual(['~ s1 drained', `wrote ${file}`, 'reloaded (exit 0)']);
    expect(readFileSync(file, 'utf8')).toContain(`server s1 127.0.0.1:${tc.httpPorts[0]} disabled`);
    // Saved before the reload, from the worker that had s3: its line is in the dump.
    expect(readFileSync(stateFile, 'utf8')).toMatch(
      /^1\n# be_id .*\n(.*\n)*\d+ laneway_servers \d+ s3 127\.0\.0\.1 /,
    );
    // The reload command returns before HAProxy has finished reloading: ask the worker until the one
    // running the new file answers, s1 in maintenance from the configuration (admin state bit 0x1).
    const adminState = async (): Promise<number | undefined> => {
      const state = await statsCommand(
        path.join(dir, 'admin.sock'),
        'show servers state laneway_servers',
      ).catch(() => '');
      const s1 = state.split('\n').find((l) => / s1 127\.0\.0\.1 /.test(l));
      return s1 === undefined ? undefined : Number(s1.split(' ')[6]);
    };
    await eventually(adminState, (admin) => admin !== undefined && (admin & 1) === 1, 5_000);

    const resumedFrom = watch!.lines.length;
    expect((await runCli(['resume', 's1'], env)).code).toBe(0);
    await watch!.line(/^reloaded/, 8_000, resumedFrom);
    expect(watch!.lines.slice(resumedFrom)).toEqual(['~ s1 resumed', `wrote ${file}`, 'reloaded (exit 0)']);
    // The saved state had s1 in maintenance from the old configuration: the new one, without `disabled`, wins.
    await eventually(adminState, (admin) => admin !== undefined && (admin & 1) === 0, 5_000);
    expect(readFileSync(reloadsFile, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('keeps the old file and does not reload when haproxy -c refuses the new configuration, and ends with exit 0 on SIGTERM', async () => {
    const good = readFileSync(file, 'utf8');
    const badReload = path.join(dir, 'bad-reload');
    // The same cluster, but a --bind haproxy -c cannot resolve: every configuration it makes is refused.
    broken = startWatch(
      [
        ...common.slice(0, 2),
        '--bind',
        'no-such-host.invalid:80',
        ...common.slice(4),
        '--interval',
        '200ms',
        '--reload-cmd',
        `touch ${badReload}`,
      ],
      env,
    );
    const refused = await broken.line(/^haproxy -c refused the new configuration/);
    expect(refused).toBe(
      `haproxy -c refused the new configuration, so ${file} was left as it was and HAProxy not reloaded:`,
    );
    expect(broken.lines.join('\n')).toMatch(/no-such-host\.invalid/);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // Said once, not at every poll, and the file, the reload and the directory untouched.
    expect(broken.lines.filter((l) => l.startsWith('haproxy -c refused'))).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect(existsSync(badReload)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await broken.stop('SIGTERM')).toBe(0);
  });

  it('keeps the file through a control plane outage, saying so once, and ends with exit 0 on SIGINT', async () => {
    const good = readFileSync(file, 'utf8');
    const from = watch!.lines.length;
    await tc.cp.process.kill9();
    const outage = await watch!.line(/cannot reach the control plane/, 8_000, from);
    expect(outage).toBe(
      `UNAVAILABLE: cannot reach the control plane at ${tc.cp.address}: is it running? (set LANEWAY_CONTROL_PLANE); ${file} kept as it is, retrying`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(watch!.lines.slice(from)).toEqual([outage]);
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect(await watch!.stop('SIGINT')).toBe(0);
  });
});
