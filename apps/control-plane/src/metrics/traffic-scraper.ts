import type { Logger } from 'pino';

/** A cumulative histogram of one series: bucket upper bounds (ascending, +Inf last) and counts, and the count. */
interface Histogram {
  les: number[];
  buckets: number[];
  count: number;
}

/** What one scrape of one server gives: histograms by route and by lane (cumulative since the server started). */
export interface ServerSample {
  routes: Map<string, Histogram>;
  lanes: Map<string, Histogram>;
}

const REQUESTS = 'http_server_request_duration_seconds';
const LANE_WAIT = 'laneway_lane_job_wait_seconds';
const NOT_CHANNELS = new Set(['unmatched', '/metrics', '/healthz']);

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return labels;
}

function add(map: Map<string, Map<number, number>>, key: string, le: number, value: number): void {
  let buckets = map.get(key);
  if (!buckets) map.set(key, (buckets = new Map()));
  buckets.set(le, (buckets.get(le) ?? 0) + value);
}

function histograms(buckets: Map<string, Map<number, number>>): Map<string, Histogram> {
  const out = new Map<string, Histogram>();
  for (const [key, byLe] of buckets) {
    const les = [...byLe.keys()].sort((a, b) => a - b);
    const counts = les.map((le) => byLe.get(le)!);
    out.set(key, { les, buckets: counts, count: counts.at(-1) ?? 0 });
  }
  return out;
}

/**
 * Reads the request and lane-wait histograms out of a server's Prometheus text: request buckets summed
 * over methods and status codes per `http_route`, wait buckets per `lane`. Other families are skipped.
 */
export function parseServerMetrics(text: string): ServerSample {
  const routes = new Map<string, Map<number, number>>();
  const lanes = new Map<string, Map<number, number>>();
  for (const line of text.split('\n')) {
    const isRequest = line.startsWith(`${REQUESTS}_bucket{`);
    const isWait = !isRequest && line.startsWith(`${LANE_WAIT}_bucket{`);
    if (!isRequest && !isWait) continue;
    const close = line.lastIndexOf('}');
    if (close < 0) continue;
    const labels = parseLabels(line.slice(line.indexOf('{') + 1, close));
    const value = Number(line.slice(close + 1).trim().split(/\s+/)[0]);
    const le = labels['le'] === '+Inf' ? Infinity : Number(labels['le']);
    if (!Number.isFinite(value) || Number.isNaN(le)) continue;
    if (isRequest) {
      const route = labels['http_route'];
      // Channels only: not 404s, nor the servers' own /metrics (these scrapes) and /healthz (the load balancers').
      if (route && !NOT_CHANNELS.has(route)) add(routes, route, le, value);
    } else if (labels['lane']) {
      add(lanes, labels['lane'], le, value);
    }
  }
  return { routes: histograms(routes), lanes: histograms(lanes) };
}

/** `now - before` bucket by bucket (a restarted server, whose counts went down, counts from zero). */
function delta(now: Histogram, before: Histogram | undefined): Histogram {
  if (!before || before.count > now.count || before.les.join() !== now.les.join()) return now;
  return { les: now.les, buckets: now.buckets.map((b, i) => b - (before.buckets[i] ?? 0)), count: now.count - before.count };
}

function sum(a: Histogram | undefined, b: Histogram): Histogram {
  if (!a) return b;
  if (a.les.join() !== b.les.join()) return a.count >= b.count ? a : b;
  return { les: a.les, buckets: a.buckets.map((x, i) => x + (b.buckets[i] ?? 0)), count: a.count + b.count };
}

/** The q-quantile of a cumulative histogram, interpolated linearly within its bucket (NaN when empty). */
export function quantile(h: Histogram, q: number): number {
  if (h.count <= 0) return NaN;
  const rank = q * h.count;
  for (let i = 0; i < h.les.length; i++) {
    if (h.buckets[i]! >= rank) {
      const upper = h.les[i]!;
      const lower = i === 0 ? 0 : h.les[i - 1]!;
      if (!Number.isFinite(upper)) return lower;
      const below = i === 0 ? 0 : h.buckets[i - 1]!;
      const inBucket = h.buckets[i]! - below;
      return inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
    }
  }
  return h.les.at(-2) ?? NaN;
}

/** One point of a cluster's series: rates and p99s over the interval that ended at `time`. */
interface Point {
  time: number;
  routes: Map<string, { rate: number; p99: number }>;
  lanes: Map<string, { rate: number; p99: number }>;
}

export interface TrafficSeries {
  times: number[];
  routes: { route: string; requestsPerSecond: number[]; p99Seconds: number[] }[];
  lanes: { lane: string; jobsPerSecond: number[]; waitP99Seconds: number[] }[];
  serversScraped: number;
  serversFailed: string[];
}

interface Watched {
  lastAsked: number;
  /** The last scrape of each server, and when. */
  previous: Map<string, { at: number; sample: ServerSample }>;
  points: Point[];
  serversScraped: number;
  serversFailed: string[];
}

export interface TrafficScraperOptions {
  /** The servers of a cluster that are connected, with their channel address (HOST:PORT, '' for none). */
  servers(cluster: string): Promise<{ name: string; httpAddress: string }[]>;
  logger: Logger;
  /** Between scrapes (ms); default 5000. */
  intervalMs?: number;
  /** Samples kept; default 120 (ten minutes at 5 s). */
  keep?: number;
  /** A cluster nobody asked about for this long is no longer scraped (ms); default ten minutes. */
  idleMs?: number;
  fetch?: (url: string, init: { signal: AbortSignal }) => Promise<{ ok: boolean; text(): Promise<string> }>;
  now?: () => number;
}

/**
 * The control plane's traffic series (GetTraffic): while someone asks about a cluster, every few
 * seconds it scrapes each connected server's /metrics at its channel address and keeps, per channel
 * route and per lane, the rate and p99 of each interval, summed over the servers, in a ring of the
 * last ten minutes.
 */
export class TrafficScraper {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly intervalMs: number;
  private readonly keep: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly fetchText: NonNullable<TrafficScraperOptions['fetch']>;

  constructor(private readonly options: TrafficScraperOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.keep = options.keep ?? 120;
    this.idleMs = options.idleMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    this.fetchText = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** The series of a cluster; the first call starts scraping it (and takes a first sample). */
  async series(cluster: string): Promise<TrafficSeries> {
    let watched = this.watched.get(cluster);
    if (!watched) {
      watched = { lastAsked: this.now(), previous: new Map(), points: [], serversScraped: 0, serversFailed: [] };
      this.watched.set(cluster, watched);
      await this.scrape(cluster, watched);
      this.start();
    }
    watched.lastAsked = this.now();
    return this.toSeries(watched);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  /** One round over every watched cluster (also what the timer runs). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = this.now();
      for (const [cluster, watched] of this.watched) {
        if (now - watched.lastAsked > this.idleMs) {
          this.watched.delete(cluster);
          continue;
        }
        await this.scrape(cluster, watched).catch((err: unknown) => this.options.logger.debug({ err, cluster }, 'traffic scrape failed'));
      }
      if (this.watched.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    } finally {
      this.running = false;
    }
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private async scrape(cluster: string, watched: Watched): Promise<void> {
    const servers = (await this.options.servers(cluster)).filter((s) => s.httpAddress !== '');
    const at = this.now();
    const failed: string[] = [];
    const routes = new Map<string, Histogram>();
    const lanes = new Map<string, Histogram>();
    let seconds = 0;
    let measured = 0;
    await Promise.all(
      servers.map(async (server) => {
        let sample: ServerSample;
        try {
          const response = await this.fetchText(`http://${server.httpAddress}/metrics`, { signal: AbortSignal.timeout(Math.min(2000, this.intervalMs)) });
          if (!response.ok) throw new Error('not 200');
          sample = parseServerMetrics(await response.text());
        } catch {
          failed.push(server.name);
          return;
        }
        const before = watched.previous.get(server.name);
        watched.previous.set(server.name, { at, sample });
        if (!before) return;
        seconds += (at - before.at) / 1000;
        measured++;
        for (const [route, h] of sample.routes) routes.set(route, sum(routes.get(route), delta(h, before.sample.routes.get(route))));
        for (const [lane, h] of sample.lanes) lanes.set(lane, sum(lanes.get(lane), delta(h, before.sample.lanes.get(lane))));
      }),
    );
    for (const name of watched.previous.keys()) if (!servers.some((s) => s.name === name)) watched.previous.delete(name);
    watched.serversScraped = servers.length - failed.length;
    watched.serversFailed = failed.sort();
    if (measured === 0) return;
    // Rates: summed over servers, each over its own interval (about the same), so divide by the mean interval.
    const interval = seconds / measured;
    const point: Point = { time: at / 1000, routes: new Map(), lanes: new Map() };
    for (const [route, h] of routes) point.routes.set(route, { rate: h.count / interval, p99: quantile(h, 0.99) });
    for (const [lane, h] of lanes) point.lanes.set(lane, { rate: h.count / interval, p99: quantile(h, 0.99) });
    watched.points.push(point);
    if (watched.points.length > this.keep) watched.points.splice(0, watched.points.length - this.keep);
  }

  private toSeries(watched: Watched): TrafficSeries {
    const points = watched.points;
    const routeNames = [...new Set(points.flatMap((p) => [...p.routes.keys()]))].sort();
    const laneNames = [...new Set(points.flatMap((p) => [...p.lanes.keys()]))].sort();
    return {
      times: points.map((p) => p.time),
      routes: routeNames.map((route) => ({
        route,
        requestsPerSecond: points.map((p) => p.routes.get(route)?.rate ?? 0),
        p99Seconds: points.map((p) => p.routes.get(route)?.p99 ?? NaN),
      })),
      lanes: laneNames.map((lane) => ({
        lane,
        jobsPerSecond: points.map((p) => p.lanes.get(lane)?.rate ?? 0),
        waitP99Seconds: points.map((p) => p.lanes.get(lane)?.p99 ?? NaN),
      })),
      serversScraped: watched.serversScraped,
      serversFailed: watched.serversFailed,
    };
  }
}
