import { describe, it, expect } from '@jest/globals';
import { GatewayMetrics } from './gateway-metrics.js';

describe('GatewayMetrics', () => {
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
    metrics.throttled();
    metrics.storeError('get');
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
    expect(text).toContain('v3_token_throttled_total 1');
    expect(text).toContain('v3_token_store_errors_total{operation="get"} 1');
    expect(text).toContain('gateway_proxy_duration_seconds_count{route="/v3",method="GET",status="200"} 2');
    expect(text).toContain(
      'gateway_proxy_duration_seconds_bucket{le="0.005",route="/v3",method="GET",status="200"} 1',
    );
    expect(text).toContain('gateway_proxy_duration_seconds_count{route="/v3",method="OTHER",status="502"} 1');
    expect(text).toContain('process_cpu_seconds_total');
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });

  it('keeps a registry per instance', async () => {
    const one = new GatewayMetrics();
    const two = new GatewayMetrics();
    one.cacheMiss();
    expect(await two.metrics()).toContain('v3_token_cache_misses_total 0');
  });
});
