// Fleet benchmark (issue 23, section 4): one control plane and N servers' sync streams, N = 10, 100,
// 1,000 (smoke: 10, 50). The streams are held by one separate process (fake-servers.ts) exactly as
// servers hold them (join token, Hello, an ACK per push, the server's reconnect backoff), without
// loading services. For each N: control-plane memory per connected server (RSS after GC, through
// its inspector), a one-service deploy ACKed by all N, a 1,000-service deploy ACKed by all N, and
// all N reconnecting at once after the control plane is killed and started again on the same port
// and data. Then the slope from the middle N to the largest, and one JSON line.
//   npm run bench -- fleet [--smoke]
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplyOutcome, WaitFor, type DeployResponse } from '@laneway/proto';
import { Api, cleanRedisPrefix, freePort, ROOT, startControlPlane, uniqueName, type ControlPlaneHandle } from '@laneway/testkit';
import { median, report, round } from '../lib/stats';
import type { Command, Reply } from './fake-servers';

const smoke = process.argv.includes('--smoke');
/** --fleets=100,1000: other sizes (at least two: the last two give the slope). */
const fleetsFlag = process.argv.find((a) => a.startsWith('--fleets='));
const FLEETS = fleetsFlag ? fleetsFlag.slice('--fleets='.length).split(',').map(Number) : smoke ? [10, 50] : [10, 100, 1000];
if (FLEETS.length < 2 || FLEETS.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`--fleets: give at least two server counts, e.g. --fleets=100,1000 (got ${JSON.stringify(fleetsFlag)})`);
  process.exit(2);
}
const RUNS = smoke ? 1 : 3;
const BIG_DEPLOY = smoke ? 200 : 1000;
const WAIT_MS = 120_000;

function serviceFile(i: number, generation: number): { path: string; content: string } {
  return {
    path: `fleet/svc-${i}.ts`,
    content: `import { defineService } from '@laneway/sdk';

interface Input { id?: string; amount?: number }

export default defineService({
  name: 'fleet.svc-${i}',
  lane: 'network',
  async handle(input: Input, ctx) {
    return { id: input?.id ?? 'n/a', amount: (input?.amount ?? 0) * ${(i % 7) + 1}, generation: ${generation}, server: ctx.server };
  },
});
`,
  };
}

const files = (count: number, generation: number) => Array.from({ length: count }, (_, i) => serviceFile(i, generation));

// Node 20 has WebSocket behind a flag; 22 has it by default.
const WS_FLAG = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' ? ['--experimental-websocket'] : [];
/** Collects garbage in the process behind inspector URL argv[1] (twice) and prints its memoryUsage(). */
const PROBE = `
const ws = new WebSocket(process.argv[1]);
let id = 0;
const pending = new Map();
const rpc = (method, params = {}) => new Promise((resolve, reject) => { pending.set(++id, { resolve, reject }); ws.send(JSON.stringify({ id, method, params })); });
ws.onmessage = (e) => { const m = JSON.parse(e.data); const p = pending.get(m.id); if (!p) return; pending.delete(m.id); m.error ? p.reject(new Error(m.error.message)) : p.resolve(m.result); };
ws.onerror = (e) => { console.error('inspector: ' + (e.message || 'connection failed')); process.exit(1); };
ws.onopen = async () => {
  await rpc('HeapProfiler.collectGarbage');
  await rpc('HeapProfiler.collectGarbage');
  const r = await rpc('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
  console.log(r.result.value);
  ws.close();
  process.exit(0);
};`;

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

/** The control plane's memory after two full collections (its inspector, opened with --inspect=127.0.0.1:0). */
async function memoryOf(cp: ControlPlaneHandle): Promise<Memory> {
  const url = cp.process.output.map((l) => /Debugger listening on (ws:\/\/\S+)/.exec(l)?.[1]).find(Boolean);
  if (!url) throw new Error(`the control plane printed no inspector address; output:\n${cp.process.output.slice(0, 5).join('\n')}`);
  const child = spawn(process.execPath, [...WS_FLAG, '-e', PROBE, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`memory probe failed (exit ${code}): ${err.trim()}`);
  return JSON.parse(out.trim()) as Memory;
}

/** The control plane's peak RSS so far (VmHWM), in MB. */
function peakRssMb(cp: ControlPlaneHandle): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${cp.process.child.pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** The process holding the fake servers' streams, and its requests by id. */
class Fleet {
  private sequence = 0;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (reply: Reply) => {
      if (reply.t === 'error') throw new Error(`fleet process: ${reply.message}`);
      if ('id' in reply) {
        this.pending.get(reply.id)?.(reply);
        this.pending.delete(reply.id);
      }
    });
  }

  static async start(cp: ControlPlaneHandle, cluster: string, token: string, count: number): Promise<Fleet> {
    const child = fork(path.join(__dirname, 'fake-servers.ts'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const fleet = new Fleet(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('message', (r: Reply) => (r.t === 'ready' ? resolve() : reject(new Error(JSON.stringify(r)))));
      child.once('exit', (code) => reject(new Error(`fleet process exited with ${code}`)));
    });
    fleet.send({ t: 'connect', address: cp.address, cluster, token, count });
    await ready;
    return fleet;
  }

  private send(command: Command): void {
    this.child.send(command);
  }

  private request<R extends Reply>(make: (id: number) => Command, what: string, timeoutMs = WAIT_MS): Promise<R> {
    const id = ++this.sequence;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fleet: ${what} did not happen within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply as R);
      });
      this.send(make(id));
    });
  }

  /** Every server ACKed `revision` (or later) on its current stream; when the last ACK was sent (epoch ms). */
  synced(revision: number, timeoutMs?: number): Promise<Extract<Reply, { t: 'synced' }>> {
    return this.request((id) => ({ t: 'waitSynced', id, revision }), `all servers syncing revision ${revision}`, timeoutMs);
  }

  down(): Promise<unknown> {
    return this.request((id) => ({ t: 'waitDown', id }), 'all streams lost');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.send({ t: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

interface FleetResult {
  servers: number;
  connectMs: number;
  kbPerServer: number;
  heapKbPerServer: number;
  oneServiceMs: number;
  oneServiceRuns: number[];
  oneServiceLastAckMs: number;
  thousandMs: number;
  thousandPushMs: number;
  thousandLastAckMs: number;
  reconnectMs: number;
  reconnectRuns: number[];
  reconnectFromListeningMs: number;
  peakRssMb: number;
}

function checkAllAcked(result: DeployResponse, count: number, what: string): void {
  const acked = result.servers.filter((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED).length;
  if (acked !== count) {
    const other = result.servers.find((s) => s.outcome !== ApplyOutcome.APPLY_OUTCOME_ACKED);
    throw new Error(`${what}: ${acked} of ${count} servers ACKed (e.g. ${JSON.stringify(other)})`);
  }
}

async function measure(count: number, prefix: string): Promise<FleetResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-fleet-'));
  const port = await freePort();
  const cpEnv = {
    LANEWAY_DATA_DIR: dataDir,
    LANEWAY_QUEUE_PREFIX: prefix,
    LANEWAY_GRPC_ADDR: `127.0.0.1:${port}`,
    LOG_LEVEL: 'info',
    // The inspector lets memoryOf() collect garbage before reading memoryUsage().
    NODE_OPTIONS: '--inspect=127.0.0.1:0',
  };
  let cp = await startControlPlane(cpEnv);
  const api = new Api(cp.address, cp.adminToken);
  let fleet: Fleet | undefined;
  try {
    const cluster = uniqueName('fleet');
    await api.createCluster(cluster);
    const token = await api.joinToken(cluster);
    const first = await api.deploy(cluster, files(1, 0), WaitFor.WAIT_FOR_NONE);
    const before = await memoryOf(cp);

    let started = performance.now();
    fleet = await Fleet.start(cp, cluster, token, count);
    await fleet.synced(first.revision);
    const connectMs = performance.now() - started;
    // Let the last ACKs' store writes and log lines finish before measuring.
    await new Promise((r) => setTimeout(r, 500));
    const after = await memoryOf(cp);

    const oneServiceRuns: number[] = [];
    const lastAckRuns: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const startedAt = Date.now();
      started = performance.now();
      const result = await api.deploy(cluster, files(1, run + 1), WaitFor.WAIT_FOR_ALL_SERVERS, WAIT_MS);
      oneServiceRuns.push(performance.now() - started);
      checkAllAcked(result, count, 'one-service deploy');
      lastAckRuns.push((await fleet.synced(result.revision)).lastAckAt - startedAt);
    }

    const startedAt = Date.now();
    started = performance.now();
    const big = await api.deploy(cluster, files(BIG_DEPLOY, 1000), WaitFor.WAIT_FOR_ALL_SERVERS, WAIT_MS);
    const thousandMs = performance.now() - started;
    checkAllAcked(big, count, `${BIG_DEPLOY}-service deploy`);
    const thousandLastAckMs = (await fleet.synced(big.revision)).lastAckAt - startedAt;
    // The log line may arrive a moment after the answer (another pipe).
    const deployed = await cp.process.waitForLog((l) => l.msg === 'deployed' && l['revision'] === big.revision, 5000).catch(() => undefined);
    // From stored to every server's ACK recorded: the push and the ACKs, without the compile.
    const thousandPushMs = deployed ? Number(deployed['totalMs']) - Number(deployed['storedMs']) : NaN;
    const peak = peakRssMb(cp);

    // Restart: killed (no goodbye to the streams), started again on the same port and data; the
    // fleet reconnects with the servers' backoff. RUNS times, the median counts.
    const reconnectRuns: number[] = [];
    const afterListeningRuns: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await cp.process.kill9();
      await fleet.down();
      started = performance.now();
      cp = await startControlPlane(cpEnv);
      const listeningMs = performance.now() - started;
      await fleet.synced(big.revision);
      reconnectRuns.push(performance.now() - started);
      afterListeningRuns.push(performance.now() - started - listeningMs);
    }
    const reconnectMs = median(reconnectRuns);

    return {
      servers: count,
      connectMs,
      kbPerServer: (after.rss - before.rss) / count / 1024,
      heapKbPerServer: (after.heapUsed + after.external - before.heapUsed - before.external) / count / 1024,
      oneServiceMs: median(oneServiceRuns),
      oneServiceRuns,
      oneServiceLastAckMs: median(lastAckRuns),
      thousandMs,
      thousandPushMs,
      thousandLastAckMs,
      reconnectMs,
      reconnectRuns,
      reconnectFromListeningMs: median(afterListeningRuns),
      peakRssMb: peak,
    };
  } finally {
    api.close();
    await fleet?.stop();
    await cp.process.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const prefix = uniqueName('lwfleet');
  const results: FleetResult[] = [];
  try {
    for (const count of FLEETS) {
      const r = await measure(count, prefix);
      results.push(r);
      console.log(
        `N=${count}: connect ${Math.round(r.connectMs)} ms, ${round(r.kbPerServer)} KB RSS/server (heap+external ${round(r.heapKbPerServer)} KB), ` +
          `one-service deploy ${Math.round(r.oneServiceMs)} ms (runs ${r.oneServiceRuns.map(Math.round).join(', ')}; last ACK sent at ${Math.round(r.oneServiceLastAckMs)} ms), ` +
          `${BIG_DEPLOY}-service deploy ${Math.round(r.thousandMs)} ms (push to all + ACKs recorded ${Math.round(r.thousandPushMs)} ms; control-plane peak RSS ${Math.round(r.peakRssMb)} MB), ` +
          `reconnect ${Math.round(r.reconnectMs)} ms after the restart (runs ${r.reconnectRuns.map(Math.round).join(', ')}; ${Math.round(r.reconnectFromListeningMs)} ms after it listened)`,
      );
    }
  } finally {
    await cleanRedisPrefix(prefix);
  }
  const top = results[results.length - 1]!;
  const mid = results[results.length - 2]!;
  const step = (top.servers - mid.servers) / 100;
  const scale = top.servers / mid.servers;
  const slope = (pick: (r: FleetResult) => number, unit: string): string =>
    `${round((pick(top) - pick(mid)) / step)} ${unit} per extra 100 servers, ${round(pick(top) / pick(mid) / scale)}x linear`;
  console.log(`\nFleet benchmark: one control plane, N = ${FLEETS.join(', ')} servers' sync streams, ${RUNS} one-service run(s)${smoke ? ' (SMOKE: small, not comparable)' : ''}`);
  console.log(`growth from N=${mid.servers} to N=${top.servers} (1.0x linear = cost proportional to N; the baseline is N=${mid.servers} in this run):`);
  console.log(`  one-service deploy:        ${slope((r) => r.oneServiceMs, 'ms')}`);
  console.log(`  ${BIG_DEPLOY}-service deploy push: ${slope((r) => r.thousandPushMs, 'ms')}`);
  console.log(`  reconnect after a restart: ${slope((r) => r.reconnectMs, 'ms')}`);
  console.log(`  control-plane RSS:         ${slope((r) => r.kbPerServer * r.servers, 'KB')}`);
  report(`control-plane RSS per connected server, N=${top.servers}`, top.kbPerServer, 'KB', { op: '<', value: 100 });
  report(`one-service deploy ACKed by all ${top.servers}`, top.oneServiceMs, 'ms', { op: '<', value: 1000 }, `(N=${mid.servers}: ${Math.round(mid.oneServiceMs)} ms)`);
  report(`${BIG_DEPLOY}-service deploy ACKed by all ${top.servers}`, top.thousandMs, 'ms', undefined, `(N=${mid.servers}: ${Math.round(mid.thousandMs)} ms)`);
  report(`all ${top.servers} reconnected and current after a restart`, top.reconnectMs, 'ms', { op: '<', value: 10_000 }, `(N=${mid.servers}: ${Math.round(mid.reconnectMs)} ms)`);
  report(`cost growth ${mid.servers} -> ${top.servers}, one-service deploy`, top.oneServiceMs / mid.oneServiceMs / scale, 'x lin', { op: '<', value: 1.0001 });
  console.log(
    JSON.stringify({
      bench: 'fleet',
      servers: top.servers,
      kb_per_server: round(top.kbPerServer, 1),
      one_service_ms: round(top.oneServiceMs, 1),
      thousand_services_ms: round(top.thousandMs, 1),
      reconnect_ms: round(top.reconnectMs, 1),
      smoke,
      big_deploy_services: BIG_DEPLOY,
      heap_kb_per_server: round(top.heapKbPerServer, 1),
      thousand_services_push_ms: round(top.thousandPushMs, 1),
      reconnect_after_listening_ms: round(top.reconnectFromListeningMs, 1),
      connect_ms: round(top.connectMs, 1),
      one_service_linear_ratio: round(top.oneServiceMs / mid.oneServiceMs / scale, 3),
      reconnect_linear_ratio: round(top.reconnectMs / mid.reconnectMs / scale, 3),
      curve: results.map((r) => ({
        servers: r.servers,
        kb_per_server: round(r.kbPerServer, 1),
        one_service_ms: round(r.oneServiceMs, 1),
        thousand_services_ms: round(r.thousandMs, 1),
        thousand_services_push_ms: round(r.thousandPushMs, 1),
        reconnect_ms: round(r.reconnectMs, 1),
        peak_rss_mb: Math.round(r.peakRssMb),
      })),
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
