import { afterEach, beforeEach, describe, it, expect, jest } from '@jest/globals';
import { Logger, type LoggerService } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { Counter, Histogram, Registry } from 'prom-client';
import { GatewayMetrics } from './gateway-metrics.js';

describe('GatewayMetrics', () => {
  // The events below log warnings by design; the fault-log tests capture them, the others keep them off the output.
  beforeEach(() => Logger.overrideLogger(false));

  it('counts cache hits without prom-client on the request path, and exposes each hit once, however often it is read', async () => {
    // prom-client's labelled `inc` ends in this method, which its typings do not declare.
    const counter = Counter.prototype as unknown as { incWithoutExemplar(): void };
    const inc = jest.spyOn(counter, 'incWithoutExemplar');
    try {
      const metrics = new GatewayMetrics();
      const before = inc.mock.calls.length;
      for (let i = 0; i < 1000; i++) metrics.cacheHit('memory');
      metrics.cacheHit('bearer');
      expect(inc.mock.calls.length).toBe(before);
      expect(await metrics.metrics()).toContain('v3_token_cache_hits_total{tier="memory"} 1000');
      const again = await metrics.metrics();
      expect(again).toContain('v3_token_cache_hits_total{tier="memory"} 1000');
      expect(again).toContain('v3_token_cache_hits_total{tier="bearer"} 1');
      metrics.cacheHit('memory');
      expect(await metrics.metrics()).toContain('v3_token_cache_hits_total{tier="memory"} 1001');
      metrics.onModuleDestroy();
    } finally {
      inc.mockRestore();
    }
  });

  it('turns observer events and proxy timings into Prometheus text', async () => {
    const metrics = new GatewayMetrics();
    metrics.grant('success', 'client_credentials', 120);
    metrics.grant('invalid_credentials', 'password', 30);
    metrics.cacheHit('memory');
    metrics.cacheHit('memory');
    metrics.cacheHit('store');
    metrics.cacheMiss();
    metrics.singleFlightWait();
    metrics.lockWait('picked_up');
    metrics.breakerState('open');
    metrics.throttled('client-a', 'address');
    metrics.throttled('client-a', 'address');
    metrics.throttled('client-b', 'client');
    metrics.edgeRefused('bad_path', '127.0.0.3');
    metrics.edgeRefused('queue_timeout', '127.0.0.2');
    metrics.storeError('get', 'Connection is closed');
    metrics.observeProxy('/v3', 'GET', 200, 0.004);
    metrics.observeProxy('/v3', 'GET', 200, 0.02);
    metrics.observeProxy('/v3', 'PROPFIND', 502, 0.5);

    const text = await metrics.metrics();
    expect(text).toContain('v3_token_grants_total{outcome="success",grant_type="client_credentials"} 1');
    expect(text).toContain('v3_token_grants_total{outcome="invalid_credentials",grant_type="password"} 1');
    expect(text).toContain('v3_token_grant_duration_seconds_sum 0.15');
    expect(text).toContain('v3_token_cache_hits_total{tier="memory"} 2');
    expect(text).toContain('v3_token_cache_hits_total{tier="store"} 1');
    expect(text).toContain('v3_token_cache_misses_total 1');
    expect(text).toContain('v3_token_singleflight_waiters_total 1');
    expect(text).toContain('v3_token_lock_waits_total{outcome="picked_up"} 1');
    expect(text).toContain('v3_token_breaker_state 2');
    expect(text).toContain('v3_token_throttled_total{reason="address"} 2');
    expect(text).toContain('v3_token_throttled_total{reason="client"} 1');
    expect(text).toContain('gateway_edge_refusals_total{reason="bad_path"} 1');
    expect(text).toContain('gateway_edge_refusals_total{reason="queue_timeout"} 1');
    // Every reason is a series from the start (0), and no label carries an address.
    expect(text).toContain('gateway_edge_refusals_total{reason="method"} 0');
    expect(text.match(/^gateway_edge_refusals_total\{/gm)).toHaveLength(9);
    expect(text).not.toContain('127.0.0.3');
    expect(text).toContain('v3_token_store_errors_total{operation="get"} 1');
    expect(text).toContain('gateway_proxy_duration_seconds_count{route="/v3",method="GET",status="200"} 2');
    expect(text).toContain(
      'gateway_proxy_duration_seconds_bucket{le="0.005",route="/v3",method="GET",status="200"} 1',
    );
    expect(text).toContain('gateway_proxy_duration_seconds_count{route="/v3",method="OTHER",status="502"} 1');
    expect(text).toContain('process_cpu_seconds_total');
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });

  it('exposes proxy latency exactly as the prom-client Histogram it replaced', async () => {
    const metrics = new GatewayMetrics();
    const registry = new Registry();
    const histogram = new Histogram({
      name: 'gateway_proxy_duration_seconds',
      help: 'Proxied requests, from arrival to the end of the response, by route prefix, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    const observations: [string, string, number, number, string][] = [
      ['/v3', 'GET', 200, 0.004, 'GET'],
      ['/echo', 'POST', 201, 0.01, 'POST'],
      ['/v3', 'PROPFIND', 502, 0.5, 'OTHER'],
      ['/v3', 'get', 200, 0.0012, 'OTHER'],
      ['/v3', 'GET', 200, 31, 'GET'],
      ['/echo', 'POST', 201, 0.0025, 'POST'],
    ];
    for (const [route, method, status, seconds, recorded] of observations) {
      metrics.observeProxy(route, method, status, seconds);
      histogram.labels(route, recorded, String(status)).observe(seconds);
    }
    metrics.observeProxy('/v3', 'GET', 200, Number.NaN);

    expect(await metrics.registry.getSingleMetricAsString('gateway_proxy_duration_seconds')).toBe(
      await registry.getSingleMetricAsString('gateway_proxy_duration_seconds'),
    );
  });

  it('counts grants refused before the issuer, the issuer queue depth and its rejections', async () => {
    const metrics = new GatewayMetrics();
    metrics.grantRefused('cold_grant_limit');
    metrics.grantRefused('cold_grant_limit');
    metrics.grantRefused('issuer_throttled');
    metrics.issuerQueue(5);
    metrics.issuerQueue(3);
    metrics.issuerQueueRejected('full');

    const text = await metrics.metrics();
    expect(text).toContain('v3_token_grants_refused_total{reason="cold_grant_limit"} 2');
    expect(text).toContain('v3_token_grants_refused_total{reason="issuer_throttled"} 1');
    expect(text).toContain('v3_token_issuer_queue_waiting 3');
    expect(text).toContain('v3_token_issuer_queue_rejected_total{reason="full"} 1');
  });

  it('keeps a registry per instance', async () => {
    const one = new GatewayMetrics();
    const two = new GatewayMetrics();
    one.cacheMiss();
    expect(await two.metrics()).toContain('v3_token_cache_misses_total 0');
  });

  describe('fault logs', () => {
    const lines: string[] = [];
    const capture: LoggerService = {
      log: (message: unknown) => lines.push(`log ${String(message)}`),
      warn: (message: unknown) =>
        lines.push(`warn ${typeof message === 'string' ? message : JSON.stringify(message)}`),
      error: (message: unknown) => lines.push(`error ${String(message)}`),
    };
    afterEach(() => {
      lines.length = 0;
      Logger.overrideLogger(false);
    });

    it('logs breaker changes, throttled clients, lock fallbacks and failed renewals', () => {
      Logger.overrideLogger(capture);
      const metrics = new GatewayMetrics();
      metrics.breakerState('open');
      metrics.breakerState('closed');
      metrics.throttled('client-a', 'client');
      metrics.lockWait('timeout');
      metrics.lockWait('fallback');
      metrics.lockWait('acquired');
      metrics.refreshAhead('failed');
      expect(lines).toEqual([
        'warn Token endpoint circuit breaker is open',
        'log Token endpoint circuit breaker is closed',
        'warn Client "client-a" throttled after too many wrong secrets (the client\'s own limit)',
        "warn Waited too long for another instance's grant; granting here instead",
        'warn Grant lock unavailable (token store down); granting without it',
        'warn Background token renewal failed; the current token keeps serving',
      ]);
    });

    it('logs 500 throttles of one client and 500 refusals of one address as one line each, then their counts', () => {
      Logger.overrideLogger(capture);
      const metrics = new GatewayMetrics();
      for (let i = 0; i < 500; i += 1) {
        metrics.throttled('client-a', 'address');
        metrics.edgeRefused('client_cap', '127.0.0.2');
      }
      expect(lines).toEqual([
        'warn Client "client-a" throttled after too many wrong secrets (its caller address\'s limit)',
        'warn Refused a request from 127.0.0.2: it already has the most requests in flight a caller may have on the route (429)',
      ]);
      metrics.onModuleDestroy();
      expect(lines.slice(2)).toEqual([
        expect.stringMatching(/^warn Client "client-a" throttled .* — 499 more times in the last \d+ s$/),
        expect.stringMatching(
          /^warn Refused a request from 127\.0\.0\.2: .* — 499 more times in the last \d+ s$/,
        ),
      ]);
    });

    it('logs 300 callers answered 503 for want of a token as one line per reason, then their count', () => {
      Logger.overrideLogger(capture);
      const metrics = new GatewayMetrics();
      for (let i = 0; i < 300; i += 1) {
        metrics.tokenUnavailable(`req-${i}`, 503, 'The token endpoint is unavailable');
        if (i % 3 === 0) metrics.tokenUnavailable(`req-${i}`, 503, 'Too many grants are waiting');
      }
      expect(lines).toEqual([
        'warn {"reqId":"req-0","status":503,"reason":"The token endpoint is unavailable"}',
        'warn {"reqId":"req-0","status":503,"reason":"Too many grants are waiting"}',
      ]);
      metrics.onModuleDestroy();
      expect(lines.slice(2)).toEqual([
        expect.stringMatching(
          /^warn Token unavailable \(503\): The token endpoint is unavailable — 299 more times/,
        ),
        expect.stringMatching(/^warn Token unavailable \(503\): Too many grants are waiting — 99 more times/),
      ]);
    });

    it('logs a failing store operation once per interval, not once per request', () => {
      Logger.overrideLogger(capture);
      const metrics = new GatewayMetrics();
      for (let i = 0; i < 50; i += 1) metrics.storeError('get', 'Connection is closed');
      metrics.storeError('set', 'Connection is closed');
      expect(lines).toEqual([
        'warn Token store get failed: Connection is closed',
        'warn Token store set failed: Connection is closed',
      ]);
    });
  });

  it("names every gateway and token metric it exposes in the README's metrics list", async () => {
    const metrics = new GatewayMetrics();
    const names = [...(await metrics.metrics()).matchAll(/^# HELP ((?:v3_token|gateway)_\w+)/gm)].map(
      (m) => m[1],
    );
    metrics.onModuleDestroy();
    expect(names.length).toBeGreaterThan(10);
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
    expect(names.filter((name) => !readme.includes(`\`${name}`))).toEqual([]);
  });
});
