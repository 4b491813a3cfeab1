import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { Histogram, type Metric, Registry } from 'prom-client';
import { ProxyLatencyHistogram } from './proxy-latency-histogram.js';

const NAME = 'gateway_proxy_duration_seconds';
const HELP = 'Proxied requests, by route prefix, method and status';
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function accumulator(): { histogram: ProxyLatencyHistogram; registry: Registry } {
  const registry = new Registry();
  const histogram = new ProxyLatencyHistogram({ name: NAME, help: HELP, buckets: BUCKETS });
  registry.registerMetric(histogram as unknown as Metric);
  return { histogram, registry };
}

/** prom-client's `get()` adds `exemplar: null` to each bucket; exemplars are off, so the accumulator has none. */
function withoutExemplar(value: object): object {
  const { exemplar: _exemplar, ...rest } = value as { exemplar?: unknown };
  return rest;
}

function promClient(): { histogram: Histogram<'route' | 'method' | 'status'>; registry: Registry } {
  const registry = new Registry();
  const histogram = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['route', 'method', 'status'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  return { histogram, registry };
}

const observation = fc.tuple(
  fc.constantFrom('/v3', '/echo', '/a"b\\c\nd'),
  fc.constantFrom('GET', 'POST', 'OTHER'),
  fc.constantFrom(200, 404, 502),
  fc.oneof(fc.constantFrom(0, ...BUCKETS, 45), fc.double({ min: 0, max: 60, noNaN: true })),
);

describe('ProxyLatencyHistogram', () => {
  it('is exposed exactly as a prom-client Histogram fed the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(observation, { maxLength: 60 }),
        fc.boolean(),
        async (observations, defaults) => {
          const ours = accumulator();
          const theirs = promClient();
          if (defaults) {
            ours.registry.setDefaultLabels({ instance: 'gw-1' });
            theirs.registry.setDefaultLabels({ instance: 'gw-1' });
          }
          for (const [route, method, status, seconds] of observations) {
            ours.histogram.observe(route, method, status, seconds);
            theirs.histogram.labels(route, method, String(status)).observe(seconds);
          }
          expect(await ours.registry.metrics()).toBe(await theirs.registry.metrics());
          const [json] = await theirs.registry.getMetricsAsJSON();
          expect(await ours.registry.getMetricsAsJSON()).toEqual([
            { ...json, values: json.values.map(withoutExemplar) },
          ]);
        },
      ),
    );
  });

  it('counts a value equal to a bound in that bucket, and one above the last bound only in +Inf', async () => {
    const { histogram, registry } = accumulator();
    histogram.observe('/v3', 'GET', 200, 0.005);
    histogram.observe('/v3', 'GET', 200, 45);
    const text = await registry.metrics();
    expect(text).toContain(`${NAME}_bucket{le="0.0025",route="/v3",method="GET",status="200"} 0`);
    expect(text).toContain(`${NAME}_bucket{le="0.005",route="/v3",method="GET",status="200"} 1`);
    expect(text).toContain(`${NAME}_bucket{le="30",route="/v3",method="GET",status="200"} 1`);
    expect(text).toContain(`${NAME}_bucket{le="+Inf",route="/v3",method="GET",status="200"} 2`);
    expect(text).toContain(`${NAME}_sum{route="/v3",method="GET",status="200"} 45.005`);
  });

  it('ignores non-finite and negative values instead of throwing', async () => {
    const { histogram, registry } = accumulator();
    for (const seconds of [Number.NaN, Infinity, -Infinity, -0.001]) {
      expect(() => histogram.observe('/v3', 'GET', 200, seconds)).not.toThrow();
    }
    expect(await registry.metrics()).toBe(`# HELP ${NAME} ${HELP}\n# TYPE ${NAME} histogram\n`);
    histogram.observe('/v3', 'GET', 200, 0.02);
    histogram.observe('/v3', 'GET', 200, Number.NaN);
    expect(await registry.metrics()).toContain(`${NAME}_sum{route="/v3",method="GET",status="200"} 0.02`);
  });

  it('keeps each route, method and status in a series of its own', async () => {
    const { histogram, registry } = accumulator();
    histogram.observe('/v3', 'GET', 200, 0.002);
    histogram.observe('/v3', 'GET', 502, 3);
    histogram.observe('/v3', 'POST', 200, 0.2);
    histogram.observe('/echo', 'GET', 200, 0.04);
    histogram.observe('/v3', 'GET', 200, 0.003);
    const text = await registry.metrics();
    expect(text).toContain(`${NAME}_count{route="/v3",method="GET",status="200"} 2`);
    expect(text).toContain(`${NAME}_sum{route="/v3",method="GET",status="200"} 0.005`);
    expect(text).toContain(`${NAME}_count{route="/v3",method="GET",status="502"} 1`);
    expect(text).toContain(`${NAME}_sum{route="/v3",method="GET",status="502"} 3`);
    expect(text).toContain(`${NAME}_count{route="/v3",method="POST",status="200"} 1`);
    expect(text).toContain(`${NAME}_bucket{le="0.1",route="/v3",method="POST",status="200"} 0`);
    expect(text).toContain(`${NAME}_count{route="/echo",method="GET",status="200"} 1`);
    expect(text).toContain(`${NAME}_bucket{le="0.05",route="/echo",method="GET",status="200"} 1`);
  });

  it('forgets every series on Registry.resetMetrics()', async () => {
    const { histogram, registry } = accumulator();
    histogram.observe('/v3', 'GET', 200, 0.002);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain(`${NAME}_count`);
    histogram.observe('/v3', 'GET', 200, 0.004);
    expect(await registry.metrics()).toContain(`${NAME}_sum{route="/v3",method="GET",status="200"} 0.004`);
  });
});
