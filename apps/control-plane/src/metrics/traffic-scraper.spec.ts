import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseServerMetrics, quantile, TrafficScraper } from './traffic-scraper';

/** Prometheus text of one server: `ok` GETs of /hello/:name at 10 ms and `slow` at 1 s, `jobs` waits of 5 ms. */
function text(ok: number, slow: number, jobs: number): string {
  const b = (le: string, n: number) => `http_server_request_duration_seconds_bucket{http_route="/hello/:name",http_request_method="GET",http_response_status_code="200",le="${le}"} ${n}`;
  return [
    '# HELP http_server_request_duration_seconds x',
    '# TYPE http_server_request_duration_seconds histogram',
    b('0.005', 0),
    b('0.01', ok),
    b('0.5', ok),
    b('1', ok + slow),
    b('+Inf', ok + slow),
    `http_server_request_duration_seconds_count{http_route="/hello/:name",http_request_method="GET",http_response_status_code="200"} ${ok + slow}`,
    'http_server_request_duration_seconds_bucket{http_route="unmatched",http_request_method="GET",http_response_status_code="404",le="+Inf"} 7',
    'http_server_request_duration_seconds_bucket{http_route="/metrics",http_request_method="GET",http_response_status_code="200",le="+Inf"} 3',
    `laneway_lane_job_wait_seconds_bucket{lane="network",le="0.001"} 0`,
    `laneway_lane_job_wait_seconds_bucket{lane="network",le="0.01"} ${jobs}`,
    `laneway_lane_job_wait_seconds_bucket{lane="network",le="+Inf"} ${jobs}`,
    'process_cpu_seconds_total 1.5',
    '',
  ].join('\n');
}

describe('traffic from the servers\' /metrics', () => {
  it('reads the request histograms per route (not unmatched) and the wait histograms per lane', () => {
    const sample = parseServerMetrics(text(90, 10, 5));
    expect([...sample.routes.keys()]).toEqual(['/hello/:name']);
    expect(sample.routes.get('/hello/:name')).toEqual({ les: [0.005, 0.01, 0.5, 1, Infinity], buckets: [0, 90, 90, 100, 100], count: 100 });
    expect(sample.lanes.get('network')!.count).toBe(5);
  });

  it('interpolates a quantile within its bucket, NaN when empty', () => {
    const h = { les: [0.01, 0.1, Infinity], buckets: [50, 100, 100], count: 100 };
    expect(quantile(h, 0.5)).toBeCloseTo(0.01);
    expect(quantile(h, 0.99)).toBeCloseTo(0.01 + 0.09 * (49 / 50));
    expect(quantile({ les: [1, Infinity], buckets: [0, 0], count: 0 }, 0.99)).toBeNaN();
    expect(quantile({ les: [1, Infinity], buckets: [0, 3], count: 3 }, 0.99)).toBe(1);
  });

  it('sums the servers\' intervals into rates and p99s, skipping servers that do not answer', async () => {
    let now = 1_000_000;
    const counters: Record<string, [number, number, number]> = { 'a:1': [0, 0, 0], 'b:1': [0, 0, 0] };
    const scraper = new TrafficScraper({
      servers: () => Promise.resolve([{ name: 'a', httpAddress: 'a:1' }, { name: 'b', httpAddress: 'b:1' }, { name: 'c', httpAddress: 'c:1' }, { name: 'd', httpAddress: '' }]),
      logger: pino({ level: 'silent' }),
      intervalMs: 60_000,
      now: () => now,
      fetch: (url) => {
        const host = /^http:\/\/([^/]+)\/metrics$/.exec(url)![1]!;
        const c = counters[host];
        if (!c) return Promise.reject(new Error('refused'));
        return Promise.resolve({ ok: true, text: () => Promise.resolve(text(...c)) });
      },
    });
    try {
      const first = await scraper.series('prod');
      expect(first.times).toEqual([]);
      expect(first.serversScraped).toBe(2);
      expect(first.serversFailed).toEqual(['c']);
      now += 5000;
      counters['a:1'] = [45, 5, 10];
      counters['b:1'] = [45, 5, 0];
      await scraper.tick();
      const series = await scraper.series('prod');
      expect(series.times).toEqual([1005]);
      expect(series.routes).toHaveLength(1);
      expect(series.routes[0]!.route).toBe('/hello/:name');
      expect(series.routes[0]!.requestsPerSecond[0]).toBeCloseTo(20);
      // 100 requests, 90 under 10 ms, 10 at up to 1 s: the 99th is in the (0.5, 1] bucket.
      expect(series.routes[0]!.p99Seconds[0]).toBeCloseTo(0.5 + 0.5 * (9 / 10));
      expect(series.lanes[0]).toMatchObject({ lane: 'network', jobsPerSecond: [2] });
      expect(series.lanes[0]!.waitP99Seconds[0]).toBeGreaterThan(0.001);
      // A restarted server (counts went down) counts from zero.
      now += 5000;
      counters['a:1'] = [5, 0, 0];
      await scraper.tick();
      expect((await scraper.series('prod')).routes[0]!.requestsPerSecond[1]).toBeCloseTo(1);
    } finally {
      scraper.close();
    }
  });
});
