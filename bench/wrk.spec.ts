import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chooseLoadGenerator, runAutocannon } from './load.js';
import { findWrk, parseWrkOutput, runWrk, WRK_REPORT_PREFIX, wrkScript } from './wrk.js';

const report = (fields: Record<string, number>): string =>
  `${WRK_REPORT_PREFIX}${JSON.stringify({
    requests: 20_000,
    durationUs: 2_000_000,
    connectErrors: 0,
    readErrors: 0,
    writeErrors: 0,
    statusErrors: 0,
    timeouts: 0,
    p50Us: 1500,
    p99Us: 4250,
    meanUs: 1750.5,
    ...fields,
  })}`;

describe('parseWrkOutput', () => {
  it('reads the report line among wrk’s own output: requests/s over wrk’s duration, latencies in ms', () => {
    const output = [
      'Running 2s test @ http://127.0.0.1:1234',
      '  1 threads and 32 connections',
      report({}),
      'Requests/sec:   9999.00',
    ].join('\n');
    expect(parseWrkOutput(output)).toEqual({
      requestsPerSecond: 10_000,
      p50Ms: 1.5,
      p99Ms: 4.25,
      meanMs: 1.7505,
      requests: 20_000,
      non2xx: 0,
      errors: 0,
    });
  });

  it('counts status errors as non-2xx and socket errors plus timeouts as errors', () => {
    const result = parseWrkOutput(
      report({ statusErrors: 7, connectErrors: 1, readErrors: 2, writeErrors: 3, timeouts: 4 }),
    );
    expect(result).toMatchObject({ non2xx: 7, errors: 10 });
  });

  it('gives 0 requests/s for a zero duration rather than dividing by it', () => {
    expect(parseWrkOutput(report({ durationUs: 0 })).requestsPerSecond).toBe(0);
  });

  it('quotes the output when the report line is missing, and names a field that is not a number', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(
      /wrk printed no report line[\s\S]*Connection refused/,
    );
    const line = report({}).replace('"p99Us":4250', '"p99Us":"slow"');
    expect(() => parseWrkOutput(line)).toThrow('wrk\'s report line has no number for "p99Us"');
  });
});

describe('wrkScript', () => {
  it('sets wrk’s one static request when there is one, with its headers', () => {
    const script = wrkScript([
      { method: 'GET', path: '/orders?limit=10', headers: { authorization: 'Bearer abc' } },
    ]);
    expect(script).toContain('wrk.method = "GET"');
    expect(script).toContain('wrk.path = "/orders?limit=10"');
    expect(script).toContain('["authorization"] = "Bearer abc"');
    expect(script).not.toContain('request = function()');
    expect(script).toContain('done = function(summary, latency, requests)');
    expect(script).toContain(WRK_REPORT_PREFIX.trim());
  });

  it('prepares every request once and cycles through them, quoting what Lua would misread', () => {
    const script = wrkScript([
      { method: 'GET', path: '/a', headers: { authorization: 'Basic "x"\\y' } },
      { method: 'POST', path: '/b' },
    ]);
    expect(script).toContain('wrk.format("GET", "/a", { ["authorization"] = "Basic \\"x\\"\\\\y" })');
    expect(script).toContain('wrk.format("POST", "/b", {  })');
    expect(script).toContain('next_index = next_index % #prepared + 1');
    expect(script).not.toContain('wrk.path =');
  });
});

describe('chooseLoadGenerator', () => {
  const wrkAt = (): string => '/usr/bin/wrk';
  const noWrk = (): undefined => undefined;

  it('takes wrk when it is installed, else autocannon', () => {
    expect(chooseLoadGenerator(undefined, wrkAt).name).toBe('wrk');
    expect(chooseLoadGenerator('', noWrk).name).toBe('autocannon');
    expect(chooseLoadGenerator(undefined, noWrk).run).toBe(runAutocannon);
  });

  it('follows BENCH_LOAD, and says so when BENCH_LOAD=wrk has no wrk to run', () => {
    expect(chooseLoadGenerator('autocannon', wrkAt).name).toBe('autocannon');
    expect(chooseLoadGenerator('wrk', wrkAt).name).toBe('wrk');
    expect(() => chooseLoadGenerator('wrk', noWrk)).toThrow('BENCH_LOAD=wrk, but there is no wrk on PATH');
    expect(() => chooseLoadGenerator('ab', wrkAt)).toThrow(
      'BENCH_LOAD must be "wrk" or "autocannon", got "ab"',
    );
  });
});

const wrk = findWrk();

(wrk ? describe : describe.skip)('runWrk against a real server', () => {
  const seen = new Map<string, number>();
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const key = `${request.method} ${request.url} ${request.headers.authorization ?? '-'}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      response.statusCode = request.headers.authorization === 'Basic bad' ? 401 : 200;
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends each of the requests in turn and reports what the server answered', async () => {
    const result = await runWrk(
      wrk!,
      url,
      [
        { method: 'GET', path: '/a', headers: { authorization: 'Basic good' } },
        { method: 'GET', path: '/b', headers: { authorization: 'Basic bad' } },
      ],
      { connections: 2, durationSeconds: 1 },
    );
    const good = seen.get('GET /a Basic good') ?? 0;
    const bad = seen.get('GET /b Basic bad') ?? 0;
    expect(good).toBeGreaterThan(0);
    expect(bad).toBeGreaterThan(0);
    expect(Math.abs(good - bad)).toBeLessThanOrEqual(2);
    expect(result.requests).toBeGreaterThan(0);
    expect(result.non2xx).toBeGreaterThan(0);
    expect(result.non2xx).toBeLessThanOrEqual(bad);
    expect(result.errors).toBe(0);
    expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
  }, 60_000);
});
