// The deploy benchmark's growth run (issue 23, section 5): one cluster of its own grown to 100,000
// services in batches of 10,000 on 3 servers (smoke: 2 batches of 1,000). Each batch ACKed by all
// three, its time against the first batch's; idle RSS per service on a server at the end; a server
// restarted with nothing catching up on everything; `laneway status`, ListServices and
// `laneway export` timed on the grown cluster.
import { ApiClient } from '@laneway/api-client';
import { ApplyOutcome, WaitFor } from '@laneway/proto';
import { freePort, runCli, startServer, uniqueName, type Api, type AppProcess, type ControlPlaneHandle } from '@laneway/testkit';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuSecondsOf, treeCpuSecondsOf } from '../lib/proc-cpu';

export interface GrowResult {
  services: number;
  batchSize: number;
  batchMs: number[];
  idleKbPerService: number;
  catchupMs: number;
  statusMs: number;
  /** The first page of 1,000 (what a listing shows first). */
  listServicesMs: number;
  /** Every page of 1,000, one after the other, and the services they held. */
  listAllPagesMs: number;
  listServicesCount: number;
  /** All services in one answer (page_size 0). */
  listWholeMs: number;
  exportMs: number;
  /** The Export RPC alone, through the API client. */
  exportRpcMs: number;
  /** The same files written by a plain loop right before and right after the export (the disk's floor); NaN when there were none. */
  exportFloorMs: [number, number];
  /** The commands that failed (their first line of stderr), by name: status, list_services, export. */
  failures: Record<string, string>;
}

export interface GrowOptions {
  cp: ControlPlaneHandle;
  api: Api;
  batches: number;
  batchSize: number;
  /** The environment of server `n` (0-based) of `cluster`, joined with `token`. */
  serverEnv: (n: number, cluster: string, token: string) => Promise<Record<string, string>>;
  /** A distinct service file: number `i`, content generation `generation`. */
  serviceFile: (i: number, generation: number) => { path: string; content: string };
  log: (line: string) => void;
}

/**
 * Writes `files` (relative paths and sizes) into a new directory in the system's temporary directory
 * with openSync/writeSync/closeSync and nothing else, then removes it; answers the ms the writing took
 * (NaN for none): the disk's own time to create such a tree.
 */
function writeFloor(files: readonly { path: string; size: number }[]): number {
  if (!files.length) return Number.NaN;
  const floorDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-bench-floor-'));
  try {
    const content = Buffer.alloc(Math.max(...files.map((f) => f.size)), 0x61);
    const directories = new Set<string>();
    const started = performance.now();
    for (const file of files) {
      const target = path.join(floorDir, file.path);
      const parent = path.dirname(target);
      if (!directories.has(parent)) {
        mkdirSync(parent, { recursive: true });
        directories.add(parent);
      }
      const fd = openSync(target, 'w');
      writeSync(fd, content, 0, file.size);
      closeSync(fd);
    }
    return performance.now() - started;
  } finally {
    rmSync(floorDir, { recursive: true, force: true });
  }
}

async function memory(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/debug/memory?gc=1`);
  return ((await res.json()) as { rss: number }).rss;
}

export async function growCluster(options: GrowOptions): Promise<GrowResult> {
  const { cp, api, batches, batchSize, serviceFile, log } = options;
  const cluster = uniqueName('bench100k');
  await api.createCluster(cluster);
  const token = await api.joinToken(cluster);
  const debugPort = await freePort();
  const envOf = async (n: number): Promise<Record<string, string>> => ({
    ...(await options.serverEnv(n, cluster, token)),
    ...(n === 0 ? { LANEWAY_DEBUG_ADDR: `127.0.0.1:${debugPort}` } : {}),
  });
  const servers: AppProcess[] = [];
  const failures: Record<string, string> = {};
  try {
    for (let n = 0; n < 3; n++) servers.push(await startServer(await envOf(n)));
    // The memory baseline: one service deployed and invoked, as the idle measurement above does.
    await api.deploy(cluster, [serviceFile(-1, 0)]);
    await Promise.all(Array.from({ length: 50 }, () => api.invoke(cluster, 'bench.svc--1', { id: 'x', amount: 1 })));
    const before = await memory(debugPort);

    const batchMs: number[] = [];
    for (let b = 0; b < batches; b++) {
      const batch = Array.from({ length: batchSize }, (_, i) => serviceFile(b * batchSize + i, 0));
      // CPU each process spent on the batch (the control plane with its compile processes): on 2
      // cores, the sum over 2 is the least wall time this work can take.
      const pids = [cp.process.child.pid, ...servers.map((s) => s.child.pid)];
      const cpuBefore = pids.map(treeCpuSecondsOf);
      const cpMainBefore = cpuSecondsOf(pids[0]) ?? NaN;
      const started = performance.now();
      const result = await api.deploy(cluster, batch, WaitFor.WAIT_FOR_ALL_SERVERS, 120_000);
      batchMs.push(performance.now() - started);
      const cpuMs = pids.map((pid, i) => Math.round(((treeCpuSecondsOf(pid) ?? NaN) - (cpuBefore[i] ?? NaN)) * 1000));
      const cpMainMs = Math.round(((cpuSecondsOf(pids[0]) ?? NaN) - cpMainBefore) * 1000);
      const acked = result.servers.filter((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED).length;
      if (acked !== 3) throw new Error(`batch ${b + 1}: ${acked} of 3 servers ACKed: ${JSON.stringify(result.servers.find((s) => s.outcome !== ApplyOutcome.APPLY_OUTCOME_ACKED))}`);
      // Where the time went: the control plane's phases (its 'deployed' line) and server s1's apply.
      // The log lines may arrive a moment after the answer (other pipes).
      const deployed = await cp.process.waitForLog((l) => l.msg === 'deployed' && l['cluster'] === cluster && l['revision'] === result.revision, 5000).catch(() => undefined);
      const apply = await servers[0]!.waitForLog((l) => l.msg === 'applied push' && l['revision'] === result.revision, 5000).catch(() => undefined);
      log(
        `  batch ${b + 1}/${batches}: ${(b + 1) * batchSize} services, ACKed by 3 in ${Math.round(batchMs[b]!)} ms ` +
          `(control plane: compile ${deployed?.['compileMs']} ms, validated at ${deployed?.['validatedMs']}, stored at ${deployed?.['storedMs']}, all ACKed at ${deployed?.['totalMs']}; s1 apply ${apply?.['ms']} ms; ` +
          `CPU ms: control plane ${cpuMs[0]} (its own process ${cpMainMs}, compile processes ${cpuMs[0]! - cpMainMs}), servers ${cpuMs.slice(1).join(' / ')})`,
      );
    }
    const services = batches * batchSize;
    const idleKbPerService = ((await memory(debugPort)) - before) / services / 1024;

    // A restarted server (a new process: it holds nothing) catches up on everything in one snapshot.
    await servers[2]!.kill9();
    const linesBefore = cp.process.lines.length;
    const restartedAt = Date.now();
    servers[2] = await startServer(await envOf(2), false);
    const { revision } = await api.getCluster(cluster);
    const applied = await cp.process.waitForLog(
      (l) => l.msg === 'server applied revision' && l['cluster'] === cluster && l['server'] === 's3' && Number(l['revision']) >= revision && Number(l['time']) >= restartedAt,
      300_000,
    );
    const connected = cp.process.lines.slice(linesBefore).find((l) => l.msg === 'server connected' && l['cluster'] === cluster && l['server'] === 's3');
    if (!connected) throw new Error('no "server connected" log line for the restarted s3');
    const catchupMs = Number(applied['time']) - Number(connected['time']);
    const catchupApply = await servers[2]!.waitForLog((l) => l.msg === 'applied push' && Number(l['revision']) >= revision).catch(() => undefined);
    log(`  catch-up of s3: ${catchupMs} ms from its hello to its ACK recorded (s3 apply ${catchupApply?.['ms']} ms, full=${catchupApply?.['full']}, ${catchupApply?.['services']} services)`);

    const cliEnv = { LANEWAY_CONTROL_PLANE: cp.address, LANEWAY_TOKEN: cp.adminToken, LANEWAY_CLUSTER: cluster };
    const timed = async (name: string, run: () => Promise<void>): Promise<number> => {
      const started = performance.now();
      try {
        await run();
      } catch (err) {
        failures[name] = (err as Error).message.split('\n')[0]!.slice(0, 300);
      }
      return performance.now() - started;
    };
    const cli = async (args: string[]): Promise<void> => {
      const result = await runCli(args, cliEnv);
      if (result.code !== 0) throw new Error(`laneway ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
    };
    const statusMs = await timed('status', () => cli(['status']));
    const client = new ApiClient({ controlPlanes: [cp.address], token: cp.adminToken });
    let listServicesCount = 0;
    let listAllPagesMs = 0;
    let listWholeMs = 0;
    const listServicesMs = await timed('list_services', async () => {
      const first = await client.listServices(cluster, { pageSize: 1000 });
      if (first.services.length !== 1000 || !first.nextPageToken) throw new Error(`the first page held ${first.services.length} services and next_page_token '${first.nextPageToken}'`);
    });
    listAllPagesMs = await timed('list_services_all_pages', async () => {
      let pageToken = '';
      do {
        const page = await client.listServices(cluster, { pageSize: 1000, pageToken });
        listServicesCount += page.services.length;
        pageToken = page.nextPageToken;
      } while (pageToken);
    });
    listWholeMs = await timed('list_services_whole', async () => {
      await client.listServices(cluster);
    });
    // The Export RPC alone (what `laneway export` waits for before it writes the files).
    let exported: { path: string; size: number }[] = [];
    const exportRpcMs = await timed('export_rpc', async () => {
      const answer = await client.configExport({ cluster, secretsKey: Buffer.alloc(0) });
      exported = answer.files.map((f) => ({ path: f.path, size: Buffer.byteLength(f.content) }));
    });
    client.close();
    // The machine's floor for the export: the files it writes (names and sizes) written by a plain loop
    // (open, write, close) into a new directory on the same disk, right before the export and right
    // after it. Creating files here swung from 32 to 600 µs a file between runs minutes apart, and
    // grew slower with every mass create and delete (100,000 files took 3 s, then 44 s, in one
    // script's back-to-back rounds): one reading after the export made the same writes look up to
    // 1.7x slower in the export than in the loop.
    const floorBeforeMs = writeFloor(exported);
    const exportDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-bench-export-'));
    const exportMs = await timed('export', () => cli(['export', '-o', exportDir]));
    rmSync(exportDir, { recursive: true, force: true });
    const floorAfterMs = writeFloor(exported);
    return {
      services,
      batchSize,
      batchMs,
      idleKbPerService,
      catchupMs,
      statusMs,
      listServicesMs,
      listAllPagesMs,
      listServicesCount,
      listWholeMs,
      exportMs,
      exportRpcMs,
      exportFloorMs: [floorBeforeMs, floorAfterMs],
      failures,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
