import { describe, expect, it } from '@jest/globals';
import {
  cpuRatio,
  evaluateTargets,
  renderMarkdown,
  renderSvg,
  requestsRatio,
  type BenchResults,
} from './report.js';
import { readSettings, serverNode } from './settings.js';
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
      loadGenerator: 'wrk',
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
  it('holds Basic and Bearer to 0.90× the thinnest Node proxy’s requests/s, 1.11× its CPU and +1 ms p99', () => {
    const baseline = config('thin-node', 1000, 4, { serverCpuUsPerRequest: 100 });
    const passing = evaluateTargets(
      results([
        baseline,
        config('gateway-basic', 900, 5, { serverCpuUsPerRequest: 111 }),
        config('gateway-bearer', 950, 4.5, { serverCpuUsPerRequest: 105 }),
        config('gateway-redis', 800, 6, { serverCpuUsPerRequest: 150 }),
      ]),
    );
    expect(passing.filter((v) => !v.pass)).toEqual([]);
    expect(passing.map((v) => v.target)).toEqual(
      expect.arrayContaining([
        'warm path (Basic) requests/s vs thinnest Node proxy',
        'warm path (Basic) CPU per request vs thinnest Node proxy',
        'warm path (Basic) p99 vs thinnest Node proxy p99',
        'Bearer path requests/s vs thinnest Node proxy',
        'Bearer path CPU per request vs thinnest Node proxy',
        'Bearer path p99 vs thinnest Node proxy p99',
        'Redis-hit path requests/s vs thinnest Node proxy',
      ]),
    );
    const failing = evaluateTargets(
      results([
        baseline,
        config('gateway-basic', 899, 5.5, { serverCpuUsPerRequest: 112 }),
        config('gateway-bearer', 1200, 5.01, { serverCpuUsPerRequest: 90 }),
        config('gateway-redis', 799, 6),
      ]),
    );
    expect(verdict(failing, 'warm path (Basic) requests/s')?.pass).toBe(false);
    expect(verdict(failing, 'warm path (Basic) CPU per request')).toMatchObject({
      wanted: '≤ 1.11×',
      measured: '1.12×',
      pass: false,
    });
    expect(verdict(failing, 'warm path (Basic) p99')?.pass).toBe(false);
    expect(verdict(failing, 'Bearer path requests/s')?.pass).toBe(true);
    expect(verdict(failing, 'Bearer path CPU per request')?.pass).toBe(true);
    expect(verdict(failing, 'Bearer path p99')).toMatchObject({ measured: '+1.01 ms', pass: false });
    expect(verdict(failing, 'Redis-hit path')?.pass).toBe(false);
  });

  it('judges nothing against the reply-from proxy: without the thinnest Node proxy there are no path targets', () => {
    const all = evaluateTargets(
      results([
        config('bare-proxy', 500, 4),
        config('gateway-basic', 900, 5),
        config('gateway-redis', 800, 6),
      ]),
    );
    expect(all.filter((v) => v.target.includes('path'))).toEqual([]);
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
    const baseline = config('thin-node', 1000, 4);
    const warm = config('gateway-basic', 950, 4);
    const pass = { ok: 10, statuses: { '200': 10 }, grants: 0, redisHits: 10, durationMs: 5 };
    const many = (peakRssMb: number, secondGrants: number, hotAfter: number) =>
      evaluateTargets(
        results([baseline, warm], {
          manyClients: {
            clients: 10,
            firstPass: { ...pass, grants: 10 },
            secondPass: { ...pass, grants: secondGrants },
            redisKeys: 10,
            rssMb: peakRssMb,
            peakRssMb,
            hotAfter: config('gateway-basic', hotAfter, 4),
            baselineAfter: config('thin-node', 1000, 4),
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
  it('divides the configuration’s CPU per request (with redis-server’s when asked) by the baseline’s', () => {
    const baseline = config('thin-node', 1000, 4, { serverCpuUsPerRequest: 120 });
    const redis = config('gateway-redis', 500, 9, { serverCpuUsPerRequest: 180, redisCpuUsPerRequest: 60 });
    expect(cpuRatio(baseline, redis)).toBeCloseTo(1.5);
    expect(cpuRatio(baseline, redis, true)).toBeCloseTo(2);
    expect(
      cpuRatio(baseline, config('gateway-basic', 900, 5, { serverCpuUsPerRequest: 132 }), true),
    ).toBeCloseTo(1.1);
  });
});

describe('pairedRatio (through cpuRatio and requestsRatio)', () => {
  it('takes the median of each round’s own ratio when both sides ran the same rounds', () => {
    // Round 2 ran on a busy machine: both sides slowed alike, its ratio stays 1.2 while the medians' ratio would not.
    const baseline = summarise('thin-node', 'thin', [
      run(1000, 4, { serverCpuUsPerRequest: 100 }),
      run(400, 9, { serverCpuUsPerRequest: 300 }),
      run(1000, 4, { serverCpuUsPerRequest: 110 }),
    ]);
    const gateway = summarise('gateway-basic', 'gw', [
      run(900, 5, { serverCpuUsPerRequest: 120 }),
      run(360, 10, { serverCpuUsPerRequest: 360 }),
      run(800, 5, { serverCpuUsPerRequest: 400 }),
    ]);
    expect(cpuRatio(baseline, gateway)).toBeCloseTo(1.2);
    expect(gateway.serverCpuUsPerRequest / baseline.serverCpuUsPerRequest).toBeCloseTo(3.27, 2);
    expect(requestsRatio(baseline, gateway)).toBeCloseTo(0.9);
    expect(cpuRatio(baseline, baseline)).toBe(1);
  });

  it('pairs each run with the geometric mean of the baseline runs beside it, where they were recorded', () => {
    // The machine slows down over the run: the baseline's first and last runs straddle the gateway's.
    const baseline = summarise('thin-node', 'thin', [
      run(1000, 4, { serverCpuUsPerRequest: 100 }),
      run(500, 8, { serverCpuUsPerRequest: 400 }),
      run(250, 16, { serverCpuUsPerRequest: 100 }),
    ]);
    const gateway = summarise('gateway-basic', 'gw', [
      run(630, 5, { serverCpuUsPerRequest: 220, baselineRuns: [0, 1] }),
      run(318, 10, { serverCpuUsPerRequest: 220, baselineRuns: [1, 2] }),
    ]);
    // sqrt(1000 × 500) = 707, sqrt(500 × 250) = 354: 0.891 and 0.899; sqrt(100 × 400) = 200: 1.1 both times.
    expect(requestsRatio(baseline, gateway)).toBeCloseTo(0.895, 3);
    expect(cpuRatio(baseline, gateway)).toBeCloseTo(1.1);
    const before = summarise('gateway-basic', 'gw', [run(630, 5, { baselineRuns: [2] })]);
    expect(requestsRatio(baseline, before)).toBeCloseTo(2.52);
  });

  it('ignores a recorded neighbour the baseline does not have', () => {
    const baseline = summarise('thin-node', 'thin', [run(1000, 4), run(1000, 4)]);
    const gateway = summarise('gateway-basic', 'gw', [
      run(500, 5, { baselineRuns: [0] }),
      run(900, 5, { baselineRuns: [7] }),
    ]);
    expect(requestsRatio(baseline, gateway)).toBeCloseTo(0.5);
  });

  it('falls back to the ratio of the medians when the rounds do not pair up', () => {
    const baseline = summarise('thin-node', 'thin', [
      run(1000, 4, { serverCpuUsPerRequest: 100 }),
      run(1000, 4, { serverCpuUsPerRequest: 100 }),
    ]);
    const gateway = config('gateway-basic', 500, 5, { serverCpuUsPerRequest: 150 });
    expect(cpuRatio(baseline, gateway)).toBeCloseTo(1.5);
    expect(requestsRatio(baseline, gateway)).toBeCloseTo(0.5);
  });
});

describe('renderMarkdown and renderSvg', () => {
  const configs = [
    config('direct', 3000, 2, { serverCpuUsPerRequest: 30 }),
    config('thin-node', 1000, 4, { serverCpuUsPerRequest: 120 }),
    config('bare-proxy', 700, 5, { serverCpuUsPerRequest: 180 }),
    config('gateway-basic', 500, 9, { serverCpuUsPerRequest: 150 }),
  ];

  it('prints the machine, Node and load generator, one row per configuration against the baseline, and failed targets', () => {
    const all = results(configs);
    const markdown = renderMarkdown(all, evaluateTargets(all));
    expect(markdown).toContain('Machine: Test CPU, 2 cores, 24 GiB, linux; Node v20;');
    expect(markdown).toContain('Load: wrk (1 thread), 32 keep-alive connections');
    expect(markdown).toContain('3% of the CPU busy before the bench started.');
    const stolen = results(configs, {
      machine: { ...results(configs).machine, stealDuringRounds: 0.124 },
    });
    expect(renderMarkdown(stolen, evaluateTargets(stolen))).toContain(
      '3% of the CPU busy before the bench started, 12.4% of it stolen by the hypervisor during the measured rounds.',
    );
    expect(markdown).toContain(
      '| configuration | requests/s | × thinnest Node proxy | server CPU µs/req | CPU × thinnest Node proxy |',
    );
    expect(markdown).toMatch(/\| direct \| 3,000 \| 3\.00× \| 30\.0 \| 0\.25× \|/);
    expect(markdown).toMatch(/\| thin-node \| 1,000 \| 1\.00× \| 120\.0 \| 1\.00× \|/);
    expect(markdown).toMatch(/\| bare-proxy \| 700 \| 0\.70× \| 180\.0 \| 1\.50× \|/);
    expect(markdown).toMatch(/\| gateway-basic \| 500 \| 0\.50× \| 150\.0 \| 1\.25× \|/);
    expect(markdown).toContain('lower is better');
    expect(markdown).toMatch(
      /warm path \(Basic\) requests\/s vs thinnest Node proxy \| ≥ 0\.90× \| 0\.50× \| \*\*FAIL\*\*/,
    );
    expect(markdown).toMatch(
      /warm path \(Basic\) CPU per request vs thinnest Node proxy \| ≤ 1\.11× \| 1\.25× \| \*\*FAIL\*\*/,
    );
  });

  it('names autocannon when it measured', () => {
    const all = results(configs);
    const markdown = renderMarkdown({ ...all, machine: { ...all.machine, loadGenerator: 'autocannon' } }, []);
    expect(markdown).toContain('Load: autocannon, 32 keep-alive connections');
  });

  it('gives redis-server’s CPU per request for the Redis-hit row, and its CPU ratios under the targets', () => {
    const all = results([
      ...configs,
      config('gateway-redis', 400, 12, { serverCpuUsPerRequest: 180, redisCpuUsPerRequest: 60 }),
    ]);
    const markdown = renderMarkdown(all, evaluateTargets(all));
    expect(markdown).toMatch(/\| gateway-redis \| 400 \| 0\.40× \| 180\.0 \| 1\.50× \|/);
    expect(markdown).toContain(
      'gateway-redis: redis-server spent another 60.0 µs of CPU per request (240.0 µs with the gateway’s).',
    );
    const targetsEnd = markdown.lastIndexOf('| Redis-hit path requests/s vs thinnest Node proxy');
    const cpuLine = markdown.indexOf('Redis-hit path CPU per request vs the thinnest Node proxy');
    expect(cpuLine).toBeGreaterThan(targetsEnd);
    expect(markdown.slice(cpuLine).split('\n')[0]).toBe(
      'Redis-hit path CPU per request vs the thinnest Node proxy (not a target): 1.50×, 2.00× counting redis-server’s CPU too.',
    );
  });

  it('prints the side-by-side readings, when there are any, with their median and range', () => {
    expect(renderMarkdown(results(configs), [])).not.toContain('Side by side on one core');
    const withReadings = results(configs, {
      sideBySide: [
        {
          name: 'gateway-basic',
          label: 'gateway, Basic (warm)',
          rounds: 5,
          configurationUs: 96.9,
          baselineUs: 71.3,
          cpuRatio: 1.363,
          lowestRatio: 1.29,
          highestRatio: 1.403,
          failures: 0,
        },
      ],
    });
    const markdown = renderMarkdown(withReadings, []);
    expect(markdown).toContain(
      'Side by side on one core (a steadier reading of the CPU ratio; not a target)',
    );
    expect(markdown).toContain('| gateway, Basic (warm) | 96.9 | 71.3 | 1.36× | 1.29×–1.40× | 0 |');
  });

  it('says how far nginx stands from the warm path when nginx was measured', () => {
    expect(renderMarkdown(results(configs), [])).not.toContain('nginx (one worker)');
    const all = results([...configs, config('nginx', 2000, 2, { serverCpuUsPerRequest: 50 })]);
    const markdown = renderMarkdown(all, evaluateTargets(all));
    expect(markdown).toMatch(/\| nginx \| 2,000 \| 2\.00× \| 50\.0 \| 0\.42× \|/);
    expect(markdown).toContain(
      'nginx (one worker) against the gateway’s warm path (Basic): 4.00× its requests/s at 0.33× its CPU per request.',
    );
  });

  it('prints n/a where the CPU time could not be read, and no Redis CPU line without the gateway', () => {
    const all = results([
      config('direct', 3000, 2, { serverCpuUsPerRequest: Number.NaN }),
      config('thin-node', 1000, 4, { serverCpuUsPerRequest: Number.NaN }),
    ]);
    const markdown = renderMarkdown(all, evaluateTargets(all));
    expect(markdown).toMatch(/\| direct \| 3,000 \| 3\.00× \| n\/a \| n\/a \|/);
    expect(markdown).not.toContain('Redis-hit path CPU per request');
    expect(markdown).not.toContain('redis-server spent');
  });

  it('draws two bars per configuration, scaled to the largest value, with labels escaped', () => {
    const svg = renderSvg([...configs, config('<evil & co>', 1500, 1)], 'Chart "title"');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(10);
    expect(svg).toContain('width="250.0"');
    expect(svg).toContain('&#60;evil &#38; co&#62;');
    expect(svg).not.toContain('<evil');
    expect(svg).toContain('Chart &#34;title&#34;');
  });
});

describe('readSettings', () => {
  it('reads durations and sizes from the environment, with full-run defaults', () => {
    expect(readSettings({})).toMatchObject({
      quick: false,
      durationSeconds: 5,
      warmupSeconds: 2,
      rounds: 5,
      distinctClients: 100_000,
      stampedeRequests: 1000,
    });
    expect(readSettings({ BENCH_DURATION_S: '1', BENCH_CLIENTS: '0' })).toMatchObject({
      durationSeconds: 1,
      distinctClients: 0,
    });
  });

  it('shortens the defaults with BENCH_QUICK=1, but keeps explicit values', () => {
    expect(readSettings({ BENCH_QUICK: '1' })).toMatchObject({
      quick: true,
      durationSeconds: 1,
      warmupSeconds: 1,
      rounds: 1,
      distinctClients: 2000,
      stampedeRequests: 200,
      connections: 32,
    });
    expect(readSettings({ BENCH_QUICK: '1', BENCH_ROUNDS: '3', BENCH_CLIENTS: '0' })).toMatchObject({
      quick: true,
      rounds: 3,
      distinctClients: 0,
    });
    expect(readSettings({ BENCH_QUICK: 'yes' }).quick).toBe(false);
  });

  it('names the variable that is not a number', () => {
    expect(() => readSettings({ BENCH_ROUNDS: 'three' })).toThrow(
      'BENCH_ROUNDS must be a non-negative number, got "three"',
    );
  });
});

describe('serverNode', () => {
  it('runs the servers on BENCH_NODE when set, else on the bench’s own Node', () => {
    expect(serverNode({ BENCH_NODE: ' /opt/node24/bin/node ' })).toBe('/opt/node24/bin/node');
    expect(serverNode({ BENCH_NODE: '' })).toBe(process.execPath);
    expect(serverNode({})).toBe(process.execPath);
  });
});
