import { describe, expect, it } from '@jest/globals';
import { cpuRatio, evaluateTargets, renderMarkdown, renderSvg, type BenchResults } from './report.js';
import { readSettings } from './settings.js';
import { median, perRequestUs, summarise, type ConfigSummary, type RunSample } from './stats.js';

const run = (requestsPerSecond: number, p99Ms: number, extra: Partial<RunSample> = {}): RunSample => ({
  requestsPerSecond,
  p50Ms: p99Ms / 4,
  p99Ms,
  meanMs: p99Ms / 3,
  requests: requestsPerSecond * 5,
  non2xx: 0,
  errors: 0,
  grants: 0,
  redisHits: 0,
  serverCpuUsPerRequest: 100,
  ...extra,
});

const config = (
  name: string,
  requestsPerSecond: number,
  p99Ms: number,
  extra: Partial<RunSample> = {},
): ConfigSummary => summarise(name, name, [run(requestsPerSecond, p99Ms, extra)]);

function results(configs: ConfigSummary[], overrides: Partial<BenchResults> = {}): BenchResults {
  return {
    date: '2026-01-01T00:00:00.000Z',
    machine: {
      cpu: 'Test CPU',
      cores: 2,
      memoryGiB: 24,
      os: 'linux',
      node: 'v20',
      redis: '7.0',
      busyBeforeStart: 0.03,
    },
    settings: readSettings({}),
    gatewayMeasured: true,
    configs,
    grants: { total: 2, perReusedClient: { a: 1, b: 1 }, duringMeasuredRuns: 0 },
    memory: { bootRssMb: 80, afterRunsRssMb: 90, peakRssMb: 95 },
    notes: [],
    ...overrides,
  };
}

const verdict = (all: ReturnType<typeof evaluateTargets>, prefix: string) =>
  all.find((v) => v.target.startsWith(prefix));

describe('median and summarise', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarises runs by their medians and sums errors, grants and Redis hits per request', () => {
    const summary = summarise('x', 'X', [
      run(100, 9, { non2xx: 1, grants: 1, redisHits: 500 }),
      run(300, 3, { errors: 2, redisHits: 1000 }),
      run(200, 5),
    ]);
    expect(summary).toMatchObject({ requestsPerSecond: 200, p99Ms: 5, non2xx: 1, errors: 2, grants: 1 });
    expect(summary.redisHitsPerRequest).toBeCloseTo(1500 / 3000);
    expect(summary.runs).toHaveLength(3);
  });

  it('takes the median CPU per request, skipping runs where it could not be read, and Redis CPU only where measured', () => {
    const summary = summarise('x', 'X', [
      run(100, 9, { serverCpuUsPerRequest: 180, redisCpuUsPerRequest: 30 }),
      run(300, 3, { serverCpuUsPerRequest: Number.NaN, redisCpuUsPerRequest: 20 }),
      run(200, 5, { serverCpuUsPerRequest: 140, redisCpuUsPerRequest: 90 }),
    ]);
    expect(summary.serverCpuUsPerRequest).toBe(160);
    expect(summary.redisCpuUsPerRequest).toBe(30);
    expect(summarise('y', 'Y', [run(100, 9)])).not.toHaveProperty('redisCpuUsPerRequest');
    expect(
      summarise('z', 'Z', [run(100, 9, { serverCpuUsPerRequest: Number.NaN })]).serverCpuUsPerRequest,
    ).toBeNaN();
  });

  it('spreads CPU ms over the requests completed, in µs per request', () => {
    expect(perRequestUs(2800, 20_000)).toBe(140);
    expect(perRequestUs(10, 0)).toBeNaN();
  });
});

describe('evaluateTargets', () => {
  it('passes the warm path at 0.90× the bare proxy and p99 within 1 ms, and fails just below', () => {
    const passing = evaluateTargets(
      results([
        config('bare-proxy', 1000, 4),
        config('gateway-basic', 900, 5),
        config('gateway-redis', 800, 6),
      ]),
    );
    expect(passing.every((v) => v.pass)).toBe(true);
    const failing = evaluateTargets(
      results([
        config('bare-proxy', 1000, 4),
        config('gateway-basic', 899, 5.5),
        config('gateway-redis', 799, 6),
      ]),
    );
    expect(verdict(failing, 'warm path (Basic)')?.pass).toBe(false);
    expect(verdict(failing, 'warm path p99')?.pass).toBe(false);
    expect(verdict(failing, 'Redis-hit path')?.pass).toBe(false);
  });

  it('fails when a reused client saw more than one grant, or a stampede more than one', () => {
    const all = evaluateTargets(
      results([], {
        grants: { total: 3, perReusedClient: { a: 1, b: 2 }, duringMeasuredRuns: 1 },
        stampede: {
          requests: 1000,
          instances: 2,
          ok: 1000,
          statuses: { '200': 1000 },
          grants: 2,
          durationMs: 50,
        },
      }),
    );
    expect(verdict(all, 'grants per reused client')?.pass).toBe(false);
    expect(verdict(all, 'cold stampede')?.pass).toBe(false);
    expect(verdict(all, 'cold stampede')?.measured).toContain('2 grant(s)');
  });

  it('judges the distinct-clients scenario by peak RSS, second-pass grants and the hot path after it', () => {
    const bare = config('bare-proxy', 1000, 4);
    const warm = config('gateway-basic', 950, 4);
    const pass = { ok: 10, statuses: { '200': 10 }, grants: 0, redisHits: 10, durationMs: 5 };
    const many = (peakRssMb: number, secondGrants: number, hotAfter: number) =>
      evaluateTargets(
        results([bare, warm], {
          manyClients: {
            clients: 10,
            firstPass: { ...pass, grants: 10 },
            secondPass: { ...pass, grants: secondGrants },
            redisKeys: 10,
            rssMb: peakRssMb,
            peakRssMb,
            hotAfter: config('gateway-basic', hotAfter, 4),
            bareAfter: config('bare-proxy', 1000, 4),
          },
        }),
      );
    const good = many(250, 0, 900);
    expect(
      good.filter((v) => v.target.startsWith('10 distinct') || v.target.startsWith('hot')).map((v) => v.pass),
    ).toEqual([true, true, true]);
    expect(verdict(many(300, 0, 900), '10 distinct clients: gateway peak RSS')?.pass).toBe(false);
    expect(verdict(many(250, 1, 900), '10 distinct clients served again')?.pass).toBe(false);
    expect(verdict(many(250, 0, 800), 'hot clients')?.pass).toBe(false);
  });
});

describe('cpuRatio', () => {
  it('divides the bare proxy’s CPU per request by the configuration’s, with redis-server’s when asked', () => {
    const bare = config('bare-proxy', 1000, 4, { serverCpuUsPerRequest: 120 });
    const redis = config('gateway-redis', 500, 9, { serverCpuUsPerRequest: 200, redisCpuUsPerRequest: 40 });
    expect(cpuRatio(bare, redis)).toBeCloseTo(0.6);
    expect(cpuRatio(bare, redis, true)).toBeCloseTo(0.5);
    expect(cpuRatio(bare, config('gateway-basic', 900, 5, { serverCpuUsPerRequest: 150 }), true)).toBeCloseTo(
      0.8,
    );
  });
});

describe('renderMarkdown and renderSvg', () => {
  const configs = [
    config('direct', 3000, 2, { serverCpuUsPerRequest: 30 }),
    config('bare-proxy', 1000, 4, { serverCpuUsPerRequest: 120 }),
    config('gateway-basic', 500, 9, { serverCpuUsPerRequest: 150 }),
  ];

  it('prints the machine, one row per configuration with its ratio to the bare proxy, and failed targets', () => {
    const all = results(configs);
    const markdown = renderMarkdown(all, evaluateTargets(all));
    expect(markdown).toContain('Machine: Test CPU, 2 cores, 24 GiB');
    expect(markdown).toContain('3% of the CPU busy before the bench started');
    expect(markdown).toContain(
      '| configuration | requests/s | × bare proxy | server CPU µs/req | CPU × bare proxy |',
    );
    expect(markdown).toMatch(/\| direct \| 3,000 \| 3\.00× \| 30\.0 \| 4\.00× \|/);
    expect(markdown).toMatch(/\| gateway-basic \| 500 \| 0\.50× \| 150\.0 \| 0\.80× \|/);
    expect(markdown).toContain('higher is better, as for requests/s');
    expect(markdown).toMatch(
      /warm path \(Basic\) requests\/s vs bare proxy \| ≥ 0\.90× \| 0\.50× \| \*\*FAIL\*\*/,
    );
  });

  it('gives redis-server’s CPU per request for the Redis-hit row, and the CPU ratios under the targets', () => {
    const all = results([
      ...configs,
      config('gateway-redis', 400, 12, { serverCpuUsPerRequest: 200, redisCpuUsPerRequest: 40 }),
    ]);
    const markdown = renderMarkdown(all, evaluateTargets(all));
    expect(markdown).toMatch(/\| gateway-redis \| 400 \| 0\.40× \| 200\.0 \| 0\.60× \|/);
    expect(markdown).toContain(
      'gateway-redis: redis-server spent another 40.0 µs of CPU per request (240.0 µs with the gateway’s).',
    );
    const targetsEnd = markdown.lastIndexOf('| Redis-hit path requests/s vs bare proxy');
    const cpuLine = markdown.indexOf('CPU per request vs bare proxy');
    expect(cpuLine).toBeGreaterThan(targetsEnd);
    expect(markdown.slice(cpuLine).split('\n')[0]).toBe(
      'CPU per request vs bare proxy (its µs/req ÷ the path’s, higher is better; not a target): ' +
        'warm path (Basic) 0.80×; Redis-hit path 0.60×, 0.50× counting redis-server’s CPU too.',
    );
  });

  it('compares the gateway with a bare proxy on its own core when that was measured', () => {
    const withoutCore = results([
      ...configs,
      config('gateway-redis', 400, 12, { serverCpuUsPerRequest: 200 }),
    ]);
    expect(renderMarkdown(withoutCore, [])).not.toContain('gateway’s own core');
    const all = results([
      ...configs,
      config('bare-undici', 2000, 3, { serverCpuUsPerRequest: 60 }),
      config('gateway-redis', 400, 12, { serverCpuUsPerRequest: 200 }),
    ]);
    const line = renderMarkdown(all, evaluateTargets(all))
      .split('\n')
      .find((text) => text.startsWith('Against a bare proxy on the gateway’s own core'));
    expect(line).toBe(
      'Against a bare proxy on the gateway’s own core (Fastify + undici’s Pool.stream(), no auth; not a target): ' +
        'warm path (Basic) 0.25× requests/s, 0.40× CPU per request; Redis-hit path 0.20× requests/s, 0.30× CPU per request.',
    );
  });

  it('prints n/a where the CPU time could not be read, and no CPU ratios line without the gateway', () => {
    const all = results([
      config('direct', 3000, 2, { serverCpuUsPerRequest: Number.NaN }),
      config('bare-proxy', 1000, 4, { serverCpuUsPerRequest: Number.NaN }),
    ]);
    const markdown = renderMarkdown(all, evaluateTargets(all));
    expect(markdown).toMatch(/\| direct \| 3,000 \| 3\.00× \| n\/a \| n\/a \|/);
    expect(markdown).not.toContain('CPU per request vs bare proxy');
    expect(markdown).not.toContain('redis-server spent');
  });

  it('draws two bars per configuration, scaled to the largest value, with labels escaped', () => {
    const svg = renderSvg([...configs, config('<evil & co>', 1500, 1)], 'Chart "title"');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(8);
    expect(svg).toContain('width="250.0"');
    expect(svg).toContain('&#60;evil &#38; co&#62;');
    expect(svg).not.toContain('<evil');
    expect(svg).toContain('Chart &#34;title&#34;');
  });
});

describe('readSettings', () => {
  it('reads durations and sizes from the environment, with short defaults', () => {
    expect(readSettings({})).toMatchObject({
      durationSeconds: 5,
      rounds: 5,
      distinctClients: 100_000,
      stampedeRequests: 1000,
    });
    expect(readSettings({ BENCH_DURATION_S: '1', BENCH_CLIENTS: '0' })).toMatchObject({
      durationSeconds: 1,
      distinctClients: 0,
    });
  });

  it('names the variable that is not a number', () => {
    expect(() => readSettings({ BENCH_ROUNDS: 'three' })).toThrow(
      'BENCH_ROUNDS must be a non-negative number, got "three"',
    );
  });
});
