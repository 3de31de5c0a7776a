import { ApplyOutcome } from '@laneway/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, cleanRedisPrefix, eventually, freePort, startControlPlane, startServer, uniqueName, type AppProcess, type ControlPlaneHandle } from '@laneway/testkit';

const services = `
import { defineService } from '@laneway/sdk';

export const hello = defineService({
  name: 'm.hello',
  handle(input: { name: string }) {
    return { hello: input.name };
  },
});

export const fails = defineService({
  name: 'm.fails',
  handle() {
    throw new Error('no');
  },
});

// Burns the CPU for 'ms' milliseconds, in a CPU-lane thread.
export const crunch = defineService({
  name: 'm.crunch',
  lane: 'cpu',
  handle(input: { ms: string }) {
    const until = Date.now() + Number(input.ms);
    let x = 0;
    while (Date.now() < until) x++;
    return { x };
  },
});
`;

// ---------------------------------------------------------------------------------------------
// A strict reader of the Prometheus text exposition format (version 0.0.4): it throws on anything
// the format does not allow, so that "it parsed" means the text is valid.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`not a number: ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
  return Number(text);
}

/** Reads `{a="x",b="y"}` starting at `from` (at the `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, from: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = from + 1;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`label without '=' in ${JSON.stringify(line)}`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`bad label name ${JSON.stringify(name)} in ${JSON.stringify(line)}`);
    if (name in labels) throw new Error(`label ${name} twice in ${JSON.stringify(line)}`);
    if (line[eq + 1] !== '"') throw new Error(`label value not quoted in ${JSON.stringify(line)}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = line[j];
      if (c === undefined) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
      if (c === '"') break;
      if (c === '\\') {
        const next = line[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`bad escape \\${String(next)} in ${JSON.stringify(line)}`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected ',' or '}' after a label in ${JSON.stringify(line)}`);
  }
}

/** The families of an exposition, checked: names, labels, escapes, types, histogram buckets, no duplicate series. */
function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const series = new Set<string>();
  let current: Family | undefined;
  const familyOf = (sample: string): Family | undefined => {
    if (current && (sample === current.name || (['histogram', 'summary'].includes(current.type) && [`${current.name}_sum`, `${current.name}_count`].includes(sample)) || (current.type === 'histogram' && sample === `${current.name}_bucket`))) return current;
    return undefined;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in ${JSON.stringify(line)}`);
      let family = families.get(name);
      if (family && family !== current) throw new Error(`family ${name} is not contiguous`);
      if (!family) {
        family = { name, type: 'untyped', help: undefined, samples: [] };
        families.set(name, family);
      }
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in ${JSON.stringify(line)}`);
        if (family.samples.length) throw new Error(`TYPE of ${name} after its samples`);
        family.type = rest as Family['type'];
      } else {
        if (family.help !== undefined) throw new Error(`HELP of ${name} twice`);
        if (/\\[^\\n]/.test(rest)) throw new Error(`bad escape in HELP of ${name}`);
        family.help = rest;
      }
      current = family;
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`not a sample: ${JSON.stringify(line)}`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in ${JSON.stringify(line)}`);
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (line[nameEnd] === '{') {
      const parsed = parseLabels(line, nameEnd);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) throw new Error(`bad value part in ${JSON.stringify(line)}`);
    const value = parseValue(parts[1]!, line);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) throw new Error(`bad timestamp in ${JSON.stringify(line)}`);
    const family = familyOf(name);
    if (!family) throw new Error(`sample ${name} outside its family's TYPE block`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`duplicate series ${key}`);
    series.add(key);
    if (name.endsWith('_bucket') && family.type === 'histogram' && !('le' in labels)) throw new Error(`bucket without le: ${JSON.stringify(line)}`);
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`negative counter: ${JSON.stringify(line)}`);
    family.samples.push({ name, labels, value });
  }
  // Histograms: per label set, buckets cumulative and rising to +Inf, which equals _count.
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    const groups = new Map<string, { le: number; value: number }[]>();
    const counts = new Map<string, number>();
    for (const s of family.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      if (s.name.endsWith('_bucket')) groups.set(key, [...(groups.get(key) ?? []), { le: parseValue(le!, s.name), value: s.value }]);
      if (s.name.endsWith('_count')) counts.set(key, s.value);
    }
    for (const [key, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) {
        if (!(buckets[i]!.le > buckets[i - 1]!.le)) throw new Error(`${family.name}${key}: le not increasing`);
        if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${family.name}${key}: buckets not cumulative`);
      }
      const last = buckets[buckets.length - 1]!;
      if (last.le !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`);
      if (counts.get(key) !== last.value) throw new Error(`${family.name}${key}: +Inf bucket ${last.value} is not _count ${counts.get(key)}`);
    }
  }
  return families;
}

/** The value of the one sample `name` whose labels include `labels` (0 when there is none: a series not yet seen). */
function valueOf(families: Map<string, Family>, family: string, name: string, labels: Record<string, string>): number {
  const f = families.get(family);
  if (!f) throw new Error(`no family ${family}`);
  const found = f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

// ---------------------------------------------------------------------------------------------

describe('Prometheus metrics on two servers and the control plane', () => {
  const prefix = uniqueName('lwmet');
  const cluster = uniqueName('metrics');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'laneway-metrics-'));
  let cp: ControlPlaneHandle;
  let api: Api;
  const servers: AppProcess[] = [];
  const ports: number[] = [];

  const scrapeText = async (port: number): Promise<{ status: number; type: string | null; text: string }> => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  };
  const scrape = async (port: number): Promise<Map<string, Family>> => {
    const { status, text } = await scrapeText(port);
    expect(status).toBe(200);
    return parseExposition(text);
  };
  /** Sums a series over both servers. */
  const onServers = async (read: (f: Map<string, Family>) => number): Promise<number> => {
    const [a, b] = await Promise.all(ports.map((p) => scrape(p)));
    return read(a!) + read(b!);
  };

  beforeAll(async () => {
    cp = await startControlPlane({ LANEWAY_DATA_DIR: dataDir, LANEWAY_QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' });
    api = new Api(cp.address, cp.adminToken);
    await api.createCluster(cluster);
    const joinToken = await api.joinToken(cluster);
    for (const name of ['s1', 's2']) {
      const port = await freePort();
      ports.push(port);
      servers.push(
        await startServer({
          LANEWAY_CONTROL_PLANE: cp.address,
          LANEWAY_CLUSTER: cluster,
          LANEWAY_SERVER_NAME: name,
          LANEWAY_QUEUE_PREFIX: prefix,
          LANEWAY_JOIN_TOKEN: joinToken,
          LANEWAY_HTTP_ADDR: `127.0.0.1:${port}`,
          LANEWAY_CPU_THREADS: '1',
        }),
      );
    }
    await api.deploy(cluster, [{ path: 'm.ts', content: services }]);
    await api.putChannel(cluster, { name: 'hello', method: 'GET', path: '/hello/:name', service: 'm.hello' });
    await api.putChannel(cluster, { name: 'fails', method: 'GET', path: '/fails', service: 'm.fails' });
    await api.putChannel(cluster, { name: 'crunch', method: 'GET', path: '/crunch/:ms', service: 'm.crunch', timeoutMs: 60_000 });
    await api.putChannel(cluster, { name: 'note', method: 'POST', path: '/notes/:name', service: 'm.hello', async: true });
  });

  afterAll(async () => {
    api?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await cp?.process.stop();
    await cleanRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves valid Prometheus text with every family on both servers and the control plane', async () => {
    expect(cp.httpPort).toBeGreaterThan(0);
    for (const port of ports) {
      const { status, type, text } = await scrapeText(port);
      expect(status).toBe(200);
      expect(type).toBe('text/plain; version=0.0.4; charset=utf-8');
      const families = parseExposition(text);
      const expected: Record<string, Family['type']> = {
        http_server_request_duration_seconds: 'histogram',
        laneway_lane_jobs_waiting: 'gauge',
        laneway_lane_jobs_active: 'gauge',
        laneway_lane_jobs_delayed: 'gauge',
        laneway_lane_jobs_completed_total: 'counter',
        laneway_lane_jobs_failed_total: 'counter',
        laneway_lane_job_duration_seconds: 'histogram',
        laneway_lane_job_wait_seconds: 'histogram',
        laneway_service_invocations_total: 'counter',
        laneway_service_errors_total: 'counter',
        laneway_service_duration_seconds: 'histogram',
        laneway_connection_call_duration_seconds: 'histogram',
        laneway_connection_call_errors_total: 'counter',
        laneway_connection_calls_in_flight: 'gauge',
        db_client_connection_count: 'gauge',
        nodejs_eventloop_lag_p99_seconds: 'gauge',
        process_cpu_seconds_total: 'counter',
        process_resident_memory_bytes: 'gauge',
        nodejs_heap_size_used_bytes: 'gauge',
      };
      for (const [name, kind] of Object.entries(expected)) expect({ name, type: families.get(name)?.type }).toEqual({ name, type: kind });
      // The lanes' queue depth is read from Redis at scrape time, for both lanes.
      for (const lane of ['network', 'cpu']) expect(families.get('laneway_lane_jobs_waiting')!.samples.some((s) => s.labels['lane'] === lane)).toBe(true);
    }
    const { status, type, text } = await scrapeText(cp.httpPort!);
    expect(status).toBe(200);
    expect(type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parseExposition(text);
    for (const name of [
      'rpc_server_call_duration_seconds',
      'http_server_request_duration_seconds',
      'laneway_deploy_duration_seconds',
      'laneway_cluster_revision',
      'laneway_server_applied_revision',
      'laneway_server_nacked_revision',
      'laneway_server_connected',
      'laneway_server_drained',
      'laneway_sync_nacks_total',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(families.has(name), name).toBe(true);
    }
    const health = await fetch(`http://127.0.0.1:${cp.httpPort}/healthz`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'serving' } });
    expect((await fetch(`http://127.0.0.1:${cp.httpPort}/nowhere`)).status).toBe(404);
  });

  it('moves the HTTP, service and lane counters as traffic moves, with route patterns and never raw paths', async () => {
    const route = { http_route: '/hello/:name', http_request_method: 'GET', http_response_status_code: '200' };
    const failed = { http_route: '/fails', http_request_method: 'GET', http_response_status_code: '500' };
    const unmatched = { http_route: 'unmatched', http_request_method: 'GET', http_response_status_code: '404' };
    const H = 'http_server_request_duration_seconds';
    const read = (f: Map<string, Family>): number[] => [
      valueOf(f, H, `${H}_count`, route),
      valueOf(f, H, `${H}_count`, failed),
      valueOf(f, H, `${H}_count`, unmatched),
      valueOf(f, 'laneway_service_invocations_total', 'laneway_service_invocations_total', { service: 'm.hello', lane: 'network' }),
      valueOf(f, 'laneway_service_errors_total', 'laneway_service_errors_total', { service: 'm.fails', lane: 'network' }),
    ];
    const before = read(await scrape(ports[0]!));
    for (let i = 0; i < 25; i++) expect((await fetch(`http://127.0.0.1:${ports[0]}/hello/user-${i}`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await fetch(`http://127.0.0.1:${ports[0]}/fails`)).status).toBe(500);
    for (let i = 0; i < 4; i++) expect((await fetch(`http://127.0.0.1:${ports[0]}/no/such/${i}`)).status).toBe(404);
    const { text } = await scrapeText(ports[0]!);
    const after = read(parseExposition(text));
    expect(after.map((v, i) => v - before[i]!)).toEqual([25, 3, 4, 25, 3]);
    // The route pattern, never the path a client sent (no user ids, no URLs).
    expect(text).not.toContain('user-');
    expect(text).not.toContain('/no/such');
    // The other server took none of it.
    expect(valueOf(await scrape(ports[1]!), H, `${H}_count`, route)).toBe(0);

    // Async channel calls run as network-lane jobs: completed counts move on the servers.
    const completed = (f: Map<string, Family>): number => valueOf(f, 'laneway_lane_jobs_completed_total', 'laneway_lane_jobs_completed_total', { lane: 'network' });
    const jobsBefore = await onServers(completed);
    for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${ports[1]}/notes/n${i}`, { method: 'POST' })).status).toBe(202);
    await eventually(() => onServers(completed), (n) => n - jobsBefore === 5);
  });

  it("shows a CPU-lane burst in the CPU lane's wait time and not in the network lane's", async () => {
    const W = 'laneway_lane_job_wait_seconds';
    const wait = (lane: string) => async (): Promise<{ sum: number; count: number }> => ({
      sum: await onServers((f) => valueOf(f, W, `${W}_sum`, { lane })),
      count: await onServers((f) => valueOf(f, W, `${W}_count`, { lane })),
    });
    const cpuBefore = await wait('cpu')();
    const netBefore = await wait('network')();
    // One CPU thread per server: twelve 200 ms jobs at once queue behind each other in the CPU lane.
    const burst = Array.from({ length: 12 }, () => fetch(`http://127.0.0.1:${ports[0]}/crunch/200`).then((r) => r.status));
    // Meanwhile network-lane jobs (async channel calls) go through the same servers.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`http://127.0.0.1:${ports[i % 2]}/notes/during-${i}`, { method: 'POST' })).status).toBe(202);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await Promise.all(burst)).toEqual(Array(12).fill(200));
    const net = await eventually(wait('network'), (w) => w.count - netBefore.count >= 10);
    const cpu = await wait('cpu')();
    const cpuJobs = cpu.count - cpuBefore.count;
    const cpuMean = (cpu.sum - cpuBefore.sum) / cpuJobs;
    const netMean = (net.sum - netBefore.sum) / (net.count - netBefore.count);
    // The first call ran at once on s1's idle thread; the rest went through the CPU lane's queue.
    expect(cpuJobs).toBeGreaterThanOrEqual(10);
    // Two threads for 2.4 s of work: the queued jobs waited about 0.6 s on average.
    expect(cpuMean).toBeGreaterThan(0.2);
    expect(netMean).toBeLessThan(0.1);
    expect(netMean).toBeLessThan(cpuMean / 4);
    // The CPU lane's service duration shows the work itself, about 0.2 s each.
    const runs = await onServers((f) => valueOf(f, 'laneway_service_invocations_total', 'laneway_service_invocations_total', { service: 'm.crunch', lane: 'cpu' }));
    expect(runs).toBe(12);
  });

  it("reports each server's applied revision, connection and drain state, and the gRPC calls, on the control plane", async () => {
    const { revision } = await api.getCluster(cluster);
    const at = { cluster };
    const families = await eventually(
      () => scrape(cp.httpPort!),
      (f) => ['s1', 's2'].every((server) => valueOf(f, 'laneway_server_applied_revision', 'laneway_server_applied_revision', { ...at, server }) === revision),
    );
    expect(valueOf(families, 'laneway_cluster_revision', 'laneway_cluster_revision', at)).toBe(revision);
    for (const server of ['s1', 's2']) {
      expect(valueOf(families, 'laneway_server_connected', 'laneway_server_connected', { ...at, server })).toBe(1);
      expect(valueOf(families, 'laneway_server_drained', 'laneway_server_drained', { ...at, server })).toBe(0);
      expect(valueOf(families, 'laneway_server_nacked_revision', 'laneway_server_nacked_revision', { ...at, server })).toBe(0);
    }
    const R = 'rpc_server_call_duration_seconds';
    const rpc = (method: string): number => valueOf(families, R, `${R}_count`, { rpc_system: 'grpc', rpc_service: 'laneway.v1.ChannelService', rpc_method: method, rpc_grpc_status_code: '0' });
    expect(rpc('CreateChannel')).toBe(4);
    expect(valueOf(families, 'laneway_deploy_duration_seconds', 'laneway_deploy_duration_seconds_count', { operation: 'deploy', outcome: 'ok' })).toBe(1);
    // A refused call is counted under its gRPC code (NOT_FOUND = 5).
    await expect(api.getCluster('no-such-cluster')).rejects.toThrow();
    const notFound = (f: Map<string, Family>): number => valueOf(f, R, `${R}_count`, { rpc_service: 'laneway.v1.ClusterService', rpc_method: 'GetCluster', rpc_grpc_status_code: '5' });
    expect(notFound(await scrape(cp.httpPort!))).toBe(1);

    await api.drain(cluster, 's2');
    await eventually(
      () => scrape(cp.httpPort!),
      (f) => valueOf(f, 'laneway_server_drained', 'laneway_server_drained', { ...at, server: 's2' }) === 1,
    );
    await api.resume(cluster, 's2');
    await eventually(
      () => scrape(cp.httpPort!),
      (f) => valueOf(f, 'laneway_server_drained', 'laneway_server_drained', { ...at, server: 's2' }) === 0,
    );
  });

  it('counts a NACK and shows the refused revision until the server ACKs again', async () => {
    const at = { cluster };
    const nacks = async (): Promise<number> => valueOf(await scrape(cp.httpPort!), 'laneway_sync_nacks_total', 'laneway_sync_nacks_total', at);
    const before = await nacks();
    // Loads on s1, throws on s2 (the control plane's inspection does not run it with a server's environment).
    const fragile = (ok: boolean): string =>
      `const { defineService } = require('@laneway/sdk');\n${ok ? '' : "if (typeof process !== 'undefined' && process.env.LANEWAY_SERVER_NAME === 's2') throw new Error('not here');\n"}` +
      `exports.default = defineService({ name: 'm.fragile', handle: () => ({ ok: ${ok} }) });\n`;
    const refused = await api.deploy(cluster, [{ path: 'm/fragile.js', content: fragile(false) }]);
    expect(refused.servers.map((s) => [s.server, s.outcome])).toEqual([
      ['s1', ApplyOutcome.APPLY_OUTCOME_ACKED],
      ['s2', ApplyOutcome.APPLY_OUTCOME_NACKED],
    ]);
    expect((await nacks()) - before).toBe(1);
    const nacked = (f: Map<string, Family>, server: string): number => valueOf(f, 'laneway_server_nacked_revision', 'laneway_server_nacked_revision', { ...at, server });
    await eventually(
      () => scrape(cp.httpPort!),
      (f) => nacked(f, 's2') === refused.revision && nacked(f, 's1') === 0,
    );
    const fixed = await api.deploy(cluster, [{ path: 'm/fragile.js', content: fragile(true) }]);
    expect(fixed.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    await eventually(
      () => scrape(cp.httpPort!),
      (f) => nacked(f, 's2') === 0 && valueOf(f, 'laneway_server_applied_revision', 'laneway_server_applied_revision', { ...at, server: 's2' }) === fixed.revision,
    );
    expect((await nacks()) - before).toBe(1);
  });
});
