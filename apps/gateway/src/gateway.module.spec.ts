import { describe, it, expect } from '@jest/globals';
import { parseGatewayConfig } from './config/gateway.config.js';
import { toTokenAuthOptions } from './gateway.module.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';

const ROUTES = '/v3=http://platform:8080';

describe('toTokenAuthOptions', () => {
  it('passes the token module tuning variables through to its options', () => {
    const metrics = new GatewayMetrics();
    const options = toTokenAuthOptions(
      parseGatewayConfig({
        GATEWAY_ROUTES: ROUTES,
        REDIS_URL: 'redis://r:6379',
        V3_TOKEN_TIMEOUT_MS: '2500',
        V3_SCOPE: 'openid',
        V3_TOKEN_RETRY_ATTEMPTS: '2',
        V3_TOKEN_BREAKER_THRESHOLD: '7',
        V3_TOKEN_BREAKER_RESET_MS: '30000',
        REDIS_KEY_PREFIX: 'acme:',
        REDIS_COMMAND_TIMEOUT_MS: '250',
        TOKEN_MEMORY_CACHE_MAX_ENTRIES: '500',
        TOKEN_REFRESH_AHEAD_RATIO: '0.5',
        TOKEN_LOCK_LEASE_MS: '2000',
        TOKEN_LOCK_WAIT_MS: '1000',
        TOKEN_MAX_FAILED_ATTEMPTS: '3',
        TOKEN_FAILED_ATTEMPTS_WINDOW_MS: '30000',
        TOKEN_INVALID_CREDENTIALS_TTL_MS: '0',
        V3_TOKEN_MAX_CONCURRENCY: '8',
        V3_TOKEN_QUEUE_SIZE: '100',
        V3_TOKEN_QUEUE_WAIT_MS: '1500',
        TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: '30',
      }),
      metrics,
    );
    expect(options).toMatchObject({
      timeoutMs: 2500,
      scope: 'openid',
      retry: { attempts: 2 },
      circuitBreaker: { failureThreshold: 7, resetTimeoutMs: 30_000 },
      keyPrefix: 'acme:',
      redis: { url: 'redis://r:6379', commandTimeoutMs: 250 },
      memoryCacheMaxEntries: 500,
      refreshAheadRatio: 0.5,
      lockLeaseMs: 2000,
      lockWaitMs: 1000,
      maxFailedAttempts: 3,
      failedAttemptsWindowMs: 30_000,
      invalidCredentialsTtlMs: 0,
      connections: 8,
      issuerQueueSize: 100,
      issuerQueueWaitMs: 1500,
      coldGrantsPerAddressPerMinute: 30,
    });
    expect(options.observer).toBe(metrics);
  });

  it('leaves every tuning option undefined when its variable is unset, so the module defaults apply', () => {
    const options = toTokenAuthOptions(parseGatewayConfig({ GATEWAY_ROUTES: ROUTES }), new GatewayMetrics());
    for (const option of [
      'timeoutMs',
      'scope',
      'retry',
      'circuitBreaker',
      'keyPrefix',
      'memoryCacheMaxEntries',
      'refreshAheadRatio',
      'lockLeaseMs',
      'lockWaitMs',
      'maxFailedAttempts',
      'failedAttemptsWindowMs',
      'invalidCredentialsTtlMs',
    ] as const) {
      expect([option, options[option]]).toEqual([option, undefined]);
    }
  });

  it('sets only the circuit breaker value that was given', () => {
    const options = toTokenAuthOptions(
      parseGatewayConfig({ GATEWAY_ROUTES: ROUTES, V3_TOKEN_BREAKER_THRESHOLD: '2' }),
      new GatewayMetrics(),
    );
    expect(options.circuitBreaker).toEqual({ failureThreshold: 2, resetTimeoutMs: undefined });
  });
});
