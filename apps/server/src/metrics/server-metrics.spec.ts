import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CellHistogram } from './cell-histogram';
import { ServerMetrics, UNMATCHED_ROUTE } from './server-metrics';

/** The sample lines of one family in a text exposition (no comments). */
function samples(text: string, family: string): string[] {
  return text.split('\n').filter((line) => !line.startsWith('#') && (line.startsWith(`${family}{`) || line.startsWith(`${family}_`) || line.startsWith(`${family} `)));
}

describe('CellHistogram', () => {
  it('writes the same exposition as prom-client Histogram for the same observations', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const ours = new Registry();
    const theirs = new Registry();
    const cells = new CellHistogram(ours, 'x_seconds', 'help text', ['a', 'b'], buckets);
    const reference = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['a', 'b'], buckets, registers: [theirs] });
    const values = [0, 0.001, 0.0011, 0.05, 0.5, 1, 3, 0.00001];
    for (const [i, v] of values.entries()) {
      const labels = { a: i % 2 ? 'one' : 'two', b: 'quote"and\\back\nslash' };
      cells.cell(labels.a, labels.b).observe(v);
      reference.observe(labels, v);
    }
    const sorted = (text: string): string[] => text.split('\n').filter(Boolean).sort();
    expect(sorted(await ours.metrics())).toEqual(sorted(await theirs.metrics()));
  });

  it('gives the same cell for the same label values, refuses a wrong count and buckets that do not increase', () => {
    const h = new CellHistogram(new Registry(), 'y_seconds', 'h', ['a'], [1, 2]);
    expect(h.cell('v')).toBe(h.cell('v'));
    expect(h.cell('v')).not.toBe(h.cell('w'));
    expect(() => h.cell('v', 'extra')).toThrow(/1 label values expected, got 2/);
    expect(() => new CellHistogram(new Registry(), 'z', 'h', [], [1, 1])).toThrow(/buckets must increase/);
  });
});

describe('ServerMetrics', () => {
  it('names the HTTP series by route pattern, OpenTelemetry method and status code', async () => {
    const metrics = new ServerMetrics();
    const route = metrics.http.route('/customers/:id');
    expect(metrics.http.route('/customers/:id')).toBe(route);
    route.observe('GET', 200, 0.002);
    route.observe('GET', 200, 0.004);
    route.observe('GET', 503, 0.2);
    metrics.http.unmatched.observe('PROPFIND', 404, 0.0001);
    const text = await metrics.text();
    const lines = samples(text, 'http_server_request_duration_seconds');
    expect(lines).toContain('http_server_request_duration_seconds_count{http_route="/customers/:id",http_request_method="GET",http_response_status_code="200"} 2');
    expect(lines).toContain('http_server_request_duration_seconds_count{http_route="/customers/:id",http_request_method="GET",http_response_status_code="503"} 1');
    expect(lines).toContain(`http_server_request_duration_seconds_count{http_route="${UNMATCHED_ROUTE}",http_request_method="_OTHER",http_response_status_code="404"} 1`);
    expect(text).toContain('# TYPE http_server_request_duration_seconds histogram');
  });

  it('derives service invocations and errors, and lane completed and failed, from the duration cells', async () => {
    const metrics = new ServerMetrics();
    metrics.service('resize', 'cpu').observe(0.5);
    metrics.service('resize', 'cpu').observeError(0.1);
    metrics.service('lookup', 'network').observe(0.001);
    metrics.lane('cpu').duration.observe(1);
    metrics.lane('cpu').duration.observeError(1);
    metrics.lane('cpu').duration.observeError(1);
    metrics.lane('cpu').wait.observe(2);
    const text = await metrics.text();
    expect(samples(text, 'laneway_service_invocations_total')).toEqual([
      'laneway_service_invocations_total{service="resize",lane="cpu"} 2',
      'laneway_service_invocations_total{service="lookup",lane="network"} 1',
    ]);
    expect(samples(text, 'laneway_service_errors_total')).toContain('laneway_service_errors_total{service="resize",lane="cpu"} 1');
    expect(samples(text, 'laneway_lane_jobs_completed_total')).toEqual(['laneway_lane_jobs_completed_total{lane="network"} 0', 'laneway_lane_jobs_completed_total{lane="cpu"} 1']);
    expect(samples(text, 'laneway_lane_jobs_failed_total')).toEqual(['laneway_lane_jobs_failed_total{lane="network"} 0', 'laneway_lane_jobs_failed_total{lane="cpu"} 2']);
    expect(samples(text, 'laneway_lane_job_wait_seconds')).toContain('laneway_lane_job_wait_seconds_sum{lane="cpu"} 2');
    // prom-client's process and runtime metrics, event-loop delay among them.
    for (const family of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text).toContain(`# TYPE ${family} `);
    }
  });
});
