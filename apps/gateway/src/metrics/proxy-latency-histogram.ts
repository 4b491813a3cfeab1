import type { Aggregator } from 'prom-client';

/** The label values of one proxy latency series, in exposition order. */
export interface ProxyLatencyLabels {
  readonly route: string;
  readonly method: string;
  readonly status: string;
}

/** Options of a {@link ProxyLatencyHistogram}. */
export interface ProxyLatencyHistogramOptions {
  /** Metric name, e.g. `gateway_proxy_duration_seconds`. */
  name: string;
  /** `# HELP` text. */
  help: string;
  /** Ascending bucket upper bounds in seconds, without `+Inf`, e.g. `[0.005, 0.01, 0.1, 1]`. */
  buckets: readonly number[];
}

/** One exposition line of the histogram, shaped as prom-client's `Histogram` shapes it. */
export interface ProxyLatencyValue {
  labels: Record<string, string | number>;
  sharedLabels?: ProxyLatencyLabels;
  value: number;
  metricName: string;
}

/** What prom-client's `Registry` reads from a metric when it scrapes it. */
export interface ProxyLatencySnapshot {
  name: string;
  help: string;
  type: 'histogram';
  values: ProxyLatencyValue[];
  aggregator: Aggregator;
}

interface Series {
  readonly labels: ProxyLatencyLabels;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A latency histogram labelled by route, method and status that records an observation with a few map lookups and
 * no allocation once its series exists. It is a prom-client custom metric: registered with
 * `registry.registerMetric()`, it is exposed exactly as a prom-client `Histogram` with
 * `labelNames: ['route', 'method', 'status']` and the same buckets would be. Non-finite and negative values are
 * ignored rather than thrown, so a bad clock reading never fails a request.
 */
export class ProxyLatencyHistogram {
  /** Metric name. */
  readonly name: string;
  /** `# HELP` text. */
  readonly help: string;
  /** Prometheus metric type. */
  readonly type = 'histogram';
  /** How prom-client's `AggregatorRegistry` combines the workers of a cluster. */
  readonly aggregator: Aggregator = 'sum';

  private readonly upperBounds: Float64Array;
  private readonly bySeries: Series[] = [];
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>();

  constructor(options: ProxyLatencyHistogramOptions) {
    this.name = options.name;
    this.help = options.help;
    this.upperBounds = Float64Array.from(options.buckets);
  }

  /** Counts one request that took `seconds`, e.g. `observe('/v3', 'GET', 200, 0.004)`. */
  observe(route: string, method: string, status: number, seconds: number): void {
    if (!(seconds >= 0 && seconds < Infinity)) return;
    const series = this.series(route, method, status);
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i += 1) {
      if (seconds <= bounds[i]) {
        series.counts[i] += 1;
        break;
      }
    }
    series.sum += seconds;
    series.count += 1;
  }

  /** Forgets every series, as prom-client's `Registry.resetMetrics()` expects. */
  reset(): void {
    this.bySeries.length = 0;
    this.byRoute.clear();
  }

  /** The metric with every label on each value, as prom-client's `Histogram.get()` returns it. */
  get(): Promise<ProxyLatencySnapshot> {
    const snapshot = this.snapshot();
    for (const value of snapshot.values) {
      value.labels = { ...value.labels, ...value.sharedLabels };
      delete value.sharedLabels;
    }
    return Promise.resolve(snapshot);
  }

  /** The metric with the series labels shared, as prom-client's `Registry` reads a histogram for the text format. */
  getForPromString(): Promise<ProxyLatencySnapshot> {
    return Promise.resolve(this.snapshot());
  }

  private series(route: string, method: string, status: number): Series {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.byRoute.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = {
        labels: { route, method, status: String(status) },
        counts: new Float64Array(this.upperBounds.length),
        sum: 0,
        count: 0,
      };
      byStatus.set(status, series);
      this.bySeries.push(series);
    }
    return series;
  }

  private snapshot(): ProxyLatencySnapshot {
    const bucket = `${this.name}_bucket`;
    const values: ProxyLatencyValue[] = [];
    for (const { labels, counts, sum, count } of this.bySeries) {
      let cumulative = 0;
      for (let i = 0; i < counts.length; i += 1) {
        cumulative += counts[i];
        values.push({
          labels: { le: this.upperBounds[i] },
          sharedLabels: labels,
          value: cumulative,
          metricName: bucket,
        });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucket },
        { labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
