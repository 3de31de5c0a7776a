import type { Registry } from 'prom-client';

/**
 * One label set of a {@link CellHistogram}: its bucket counts, sum and count, plus a count of
 * errors for the families derived from it (a service's errors, a lane's failed jobs). Observing is
 * a few additions on numbers: no label hashing, no allocation.
 */
export class HistogramCell {
  /** Per bucket (not cumulative): observations above the previous bound and up to this one. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  errors = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  /** One observation in seconds (or whatever unit the family has). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** One observation of a call that failed. */
  observeError(value: number): void {
    this.observe(value);
    this.errors++;
  }
}

const INF = Object.freeze({ le: '+Inf' });

/** What prom-client's registry reads of a metric (the shape its own metrics give). */
interface MetricData {
  name: string;
  help: string;
  type: 'histogram' | 'counter' | 'gauge';
  values: { metricName?: string; labels: Readonly<Record<string, string | number>>; sharedLabels?: Readonly<Record<string, string>>; value: number }[];
  aggregator: 'sum';
}

/**
 * A Prometheus histogram whose label sets are created ahead of the hot path ({@link cell}) and
 * observed there directly. prom-client's own Histogram hashes the label object and allocates on
 * every observation; on the channel path that showed. Registered in a prom-client Registry, it is
 * exposed beside prom-client's metrics in the same text.
 */
export class CellHistogram {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;
  private readonly cells = new Map<string, HistogramCell>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
    this.bounds = Float64Array.from(buckets);
    registry.registerMetric(this as never);
  }

  /** The cell of one label set (one value per label name, in order): created once, then the same one. */
  cell(...values: string[]): HistogramCell {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: ${this.labelNames.length} label values expected, got ${values.length}`);
    const key = values.join('\u0000');
    let cell = this.cells.get(key);
    if (!cell) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((label, i) => (labels[label] = values[i]!));
      cell = new HistogramCell(Object.freeze(labels), this.bounds);
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Every cell, for families derived from them. */
  all(): IterableIterator<HistogramCell> {
    return this.cells.values();
  }

  get(): MetricData {
    const values: MetricData['values'] = [];
    const bucket = `${this.name}_bucket`;
    for (const cell of this.cells.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += cell.counts[i]!;
        values.push({ metricName: bucket, labels: { le: this.bounds[i]! }, sharedLabels: cell.labels, value: cumulative });
      }
      values.push({ metricName: bucket, labels: INF, sharedLabels: cell.labels, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels: cell.labels, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: cell.labels, value: cell.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/**
 * A counter family read from the cells of a {@link CellHistogram} at scrape time (a service's
 * invocations and errors are its duration cells' count and error count): nothing more to do per call.
 */
export class CellCounter {
  readonly type = 'counter';

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly source: CellHistogram,
    private readonly read: (cell: HistogramCell) => number,
  ) {
    registry.registerMetric(this as never);
  }

  get(): MetricData {
    const values: MetricData['values'] = [];
    for (const cell of this.source.all()) values.push({ labels: cell.labels, value: this.read(cell) });
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
}
