// `laneway lb haproxy` against Debian's real haproxy and two real servers: the generated file passes
// `haproxy -c`, HAProxy started on it spreads requests over both servers, takes a drained server out
// by its health check without a failed request, and retries requests a killed server held or refused
// on the other one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, requireHaproxy, runCli, startCluster, stopChild, type TestCluster } from '@laneway/testkit';

const service = `
import { defineService } from '@laneway/sdk';
export default defineService({
  name: 'lb.who',
  async handle(input: { ms?: string }, ctx) {
    await new Promise((resolve) => setTimeout(resolve, Number(input.ms ?? 0)));
    return { server: ctx.server };
  },
});
`;

/** One request through HAProxy: its status and the server that ran the service ('' when it failed). */
interface Sent {
  status: number;
  server: string;
  at: number;
}

describe('laneway lb haproxy with a real HAProxy', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  let tc: TestCluster;
  let env: Record<string, string>;
  let haproxy: ChildProcess | undefined;
  /** HAProxy's last 200 lines (its request log included). */
  const haproxyOutput: string[] = [];
  /** Its "Server laneway_servers/NAME is UP|DOWN" lines. */
  const stateChanges: string[] = [];
  let lbPort: number;

  const send = async (ms = 0): Promise<Sent> => {
    try {
      const response = await fetch(`http://127.0.0.1:${lbPort}/who?ms=${ms}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await response.json().catch(() => ({}))) as { server?: string };
      return { status: response.status, server: body.server ?? '', at: Date.now() };
    } catch {
      return { status: 0, server: '', at: Date.now() };
    }
  };

  /** `workers` sequential loops of requests until `until` says stop; every answer, in order of arrival. */
  const load = async (workers: number, ms: number, until: (sent: Sent[]) => boolean, maxMs: number): Promise<Sent[]> => {
    const sent: Sent[] = [];
    const deadline = Date.now() + maxMs;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (!until(sent) && Date.now() < deadline) sent.push(await send(ms));
      }),
    );
    return sent;
  };

  const failures = (sent: Sent[]): Sent[] => sent.filter((s) => s.status !== 200);
  /** True once the last `n` answers all came from `server`. */
  const lastFrom = (server: string, n: number) => (sent: Sent[]) => sent.length >= n && sent.slice(-n).every((s) => s.server === server);

  beforeAll(async () => {
    requireHaproxy();
    tc = await startCluster({ servers: 2, http: true, name: 'lwlb' });
    env = { LANEWAY_CONTROL_PLANE: tc.cp.address, LANEWAY_TOKEN: tc.cp.adminToken, LANEWAY_CLUSTER: tc.cluster };
    await tc.api.deploy(tc.cluster, [{ path: 'lb.ts', content: service }]);
    await tc.api.putChannel(tc.cluster, { name: 'who', method: 'GET', path: '/who', service: 'lb.who', timeoutMs: 12_000 });
    lbPort = await freePort();
  });

  afterAll(async () => {
    if (haproxy) await stopChild(haproxy);
    await tc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a configuration haproxy -c accepts, with both servers, and never replaces the file with one it refuses', async () => {
    const args = ['lb', 'haproxy', '--out', file, '--bind', `127.0.0.1:${lbPort}`, '--state-file', path.join(dir, 'server-state'), '--stats-socket', path.join(dir, 'admin.sock')];
    const written = await runCli(args, env);
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`server s1 127.0.0.1:${tc.httpPorts[0]}\n`);
    expect(text).toContain(`server s2 127.0.0.1:${tc.httpPorts[1]}\n`);
    // The channel's 12 s deadline plus the margin is under the 30 s default, which wins.
    expect(text).toContain('timeout server 35s');
    const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    expect({ status: check.status, output: `${check.stdout}${check.stderr}` }).toMatchObject({ status: 0 });

    // An address HAProxy cannot bind: haproxy -c refuses it, the file stays as it was, no temp file is left.
    const refused = await runCli([...args.slice(0, 4), '--bind', 'no-such-host.invalid:80'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('haproxy -c refused the configuration');
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(readdirSync(dir)).toEqual(['haproxy.cfg']);

    // Without --out it prints the same text.
    const printed = await runCli(args.filter((_, i) => i !== 2 && i !== 3), env);
    expect(printed.code).toBe(0);
    expect(`${printed.stdout.trimEnd()}\n`).toBe(text);
  });

  it('sends requests to both servers through HAProxy', async () => {
    haproxy = spawn('haproxy', ['-db', '-f', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      const lines = chunk.toString('utf8').split('\n').filter(Boolean);
      haproxyOutput.push(...lines);
      haproxyOutput.splice(0, Math.max(0, haproxyOutput.length - 200));
      stateChanges.push(...lines.filter((l) => / is (UP|DOWN)\b/.test(l)));
    };
    haproxy.stdout!.on('data', keep);
    haproxy.stderr!.on('data', keep);
    // Listening once a request gets an HTTP answer (before that, the port refuses).
    const up = await load(1, 0, (s) => s.some((x) => x.status !== 0), 5_000);
    expect(up.some((x) => x.status !== 0), haproxyOutput.join('\n')).toBe(true);
    const sent = await load(1, 0, (s) => new Set(s.filter((x) => x.status === 200).map((x) => x.server)).size === 2 && s.length >= 10, 5_000);
    expect(failures(sent), haproxyOutput.join('\n')).toEqual([]);
    expect(new Set(sent.map((s) => s.server)), haproxyOutput.join('\n')).toEqual(new Set(['s1', 's2']));
  });

  it('takes a drained server out by its health check within about 3 s (asserted: 4.5 s, for a busy CI machine), without a failed request', async () => {
    const drained = await runCli(['drain', 's1'], env);
    expect(drained.code).toBe(0);
    const start = Date.now();
    const sent = await load(2, 10, lastFrom('s2', 20), 6_000);
    expect(failures(sent), haproxyOutput.slice(-20).join('\n')).toEqual([]);
    expect(lastFrom('s2', 20)(sent)).toBe(true);
    const lastToS1 = sent.filter((s) => s.server === 's1').at(-1)?.at ?? start;
    expect(lastToS1 - start).toBeLessThan(4_500);

    // Resumed, it takes requests again once two checks passed.
    expect((await runCli(['resume', 's1'], env)).code).toBe(0);
    const back = await load(2, 10, (s) => s.some((x) => x.server === 's1'), 6_000);
    expect(failures(back)).toEqual([]);
    expect(back.some((s) => s.server === 's1')).toBe(true);
  });

  it('retries on the other server when one is killed under load, so no request fails', async () => {
    // 40 ms per request over 4 connections: some are in flight on s2 when it dies (empty response,
    // retried), later ones are refused by its port (connection failure, redispatched) until the check takes it out.
    let killedAt = 0;
    const killer = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      killedAt = Date.now();
      await tc.servers[1]!.kill9();
    })();
    const sent = await load(4, 40, (s) => killedAt > 0 && Date.now() - killedAt > 3_500 && lastFrom('s1', 20)(s), 8_000);
    await killer;
    expect(sent.filter((s) => s.at < killedAt).map((s) => s.server)).toContain('s2');
    expect(failures(sent), haproxyOutput.slice(-20).join('\n')).toEqual([]);
    expect(lastFrom('s1', 20)(sent)).toBe(true);
    expect(stateChanges.join('\n')).toMatch(/Server laneway_servers\/s2 is DOWN/);
  });
});
