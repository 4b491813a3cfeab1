import { describe, it, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { TrustedProxies } from '../proxy/caller-address.js';
import {
  DEFAULT_EDGE_CONFIG,
  GATEWAY_CONFIG,
  GatewayConfigError,
  SANDBOX_TOKEN_URL,
  parseGatewayConfig,
  validateGatewayEnv,
} from './gateway.config.js';

const ROUTES = '/v3=http://platform:8080';
const HMAC = 'h'.repeat(32);

function failure(env: Record<string, string | undefined>): string {
  try {
    parseGatewayConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('parseGatewayConfig', () => {
  it('applies the documented defaults', () => {
    const config = parseGatewayConfig({ GATEWAY_ROUTES: ROUTES });
    expect(config).toEqual({
      nodeEnv: 'development',
      port: 3000,
      host: '0.0.0.0',
      tokenUrl: SANDBOX_TOKEN_URL,
      grantType: 'client_credentials',
      clientAuthMethod: 'client_secret_post',
      clientId: undefined,
      clientSecret: undefined,
      redis: undefined,
      hmacKey: undefined,
      encryptionKeys: undefined,
      expirySkewSeconds: 30,
      routes: [{ prefix: '/v3', target: 'http://platform:8080', scopes: [], public: false }],
      logLevel: 'info',
      upstreamTimeoutMs: 30_000,
      edge: DEFAULT_EDGE_CONFIG,
      memoryCache: true,
      tokenTimeoutMs: undefined,
      revocationUrl: undefined,
      reauthCooldownMs: 30_000,
      scope: undefined,
      retryAttempts: undefined,
      breakerFailureThreshold: undefined,
      breakerResetTimeoutMs: undefined,
      keyPrefix: undefined,
      memoryCacheMaxEntries: undefined,
      refreshAheadRatio: undefined,
      lockLeaseMs: undefined,
      lockWaitMs: undefined,
      maxFailedAttempts: undefined,
      failedAttemptsWindowMs: undefined,
      invalidCredentialsTtlMs: undefined,
      knownGoodTtlMs: undefined,
    });
  });

  it.each([
    ['V3_TOKEN_TIMEOUT_MS', ' 2500 ', 'tokenTimeoutMs', 2500],
    ['V3_REVOCATION_URL', 'https://issuer.example/revoke', 'revocationUrl', 'https://issuer.example/revoke'],
    ['GATEWAY_REAUTH_COOLDOWN_MS', '0', 'reauthCooldownMs', 0],
    ['GATEWAY_REAUTH_COOLDOWN_MS', '5000', 'reauthCooldownMs', 5000],
    ['V3_SCOPE', ' openid orders:read ', 'scope', 'openid orders:read'],
    ['V3_TOKEN_RETRY_ATTEMPTS', '1', 'retryAttempts', 1],
    ['V3_TOKEN_BREAKER_THRESHOLD', '8', 'breakerFailureThreshold', 8],
    ['V3_TOKEN_BREAKER_RESET_MS', '0', 'breakerResetTimeoutMs', 0],
    ['REDIS_KEY_PREFIX', 'acme:v3t:', 'keyPrefix', 'acme:v3t:'],
    ['TOKEN_MEMORY_CACHE_MAX_ENTRIES', '50000', 'memoryCacheMaxEntries', 50_000],
    ['TOKEN_REFRESH_AHEAD_RATIO', '0.75', 'refreshAheadRatio', 0.75],
    ['TOKEN_REFRESH_AHEAD_RATIO', '0', 'refreshAheadRatio', 0],
    ['TOKEN_LOCK_LEASE_MS', '100', 'lockLeaseMs', 100],
    ['TOKEN_LOCK_WAIT_MS', '0', 'lockWaitMs', 0],
    ['TOKEN_MAX_FAILED_ATTEMPTS', '20', 'maxFailedAttempts', 20],
    ['TOKEN_FAILED_ATTEMPTS_WINDOW_MS', '120000', 'failedAttemptsWindowMs', 120_000],
    ['TOKEN_INVALID_CREDENTIALS_TTL_MS', '0', 'invalidCredentialsTtlMs', 0],
    ['TOKEN_KNOWN_GOOD_TTL_MS', '3600000', 'knownGoodTtlMs', 3_600_000],
    ['V3_TOKEN_MAX_CONCURRENCY', '32', 'tokenMaxConcurrency', 32],
    ['V3_TOKEN_QUEUE_SIZE', '0', 'tokenQueueSize', 0],
    ['V3_TOKEN_QUEUE_WAIT_MS', '2000', 'tokenQueueWaitMs', 2000],
    ['TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE', '0', 'coldGrantsPerAddressPerMinute', 0],
  ] as const)('reads %s=%j as %s', (variable, raw, field, expected) => {
    const config = parseGatewayConfig({ GATEWAY_ROUTES: ROUTES, [variable]: raw });
    expect(config[field]).toBe(expected);
  });

  it('gives REDIS_COMMAND_TIMEOUT_MS to whichever Redis is configured, and ignores it without one', () => {
    const withRedis = (redis: Record<string, string>) =>
      parseGatewayConfig({ GATEWAY_ROUTES: ROUTES, REDIS_COMMAND_TIMEOUT_MS: '250', ...redis }).redis;
    expect(withRedis({ REDIS_URL: 'redis://r:6379' })).toEqual({
      url: 'redis://r:6379',
      commandTimeoutMs: 250,
    });
    expect(withRedis({ REDIS_CLUSTER_NODES: 'r1:7000' })).toEqual({
      clusterNodes: ['r1:7000'],
      commandTimeoutMs: 250,
    });
    expect(withRedis({})).toBeUndefined();
    expect(parseGatewayConfig({ GATEWAY_ROUTES: ROUTES, REDIS_URL: 'redis://r:6379' }).redis).toEqual({
      url: 'redis://r:6379',
    });
  });

  it('maps every variable to the typed config', () => {
    const key = randomBytes(32).toString('base64');
    const config = parseGatewayConfig({
      NODE_ENV: 'production',
      PORT: '8081',
      HOST: '127.0.0.1',
      V3_TOKEN_URL: 'https://kc.example/realms/acme/protocol/openid-connect/token',
      V3_GRANT_TYPE: 'password',
      V3_CLIENT_AUTH: 'client_secret_basic',
      V3_CLIENT_ID: 'gateway',
      V3_CLIENT_SECRET: 'gw-secret',
      REDIS_URL: 'rediss://cache.example:6380',
      TOKEN_CACHE_HMAC_KEY: HMAC,
      TOKEN_CACHE_ENCRYPTION_KEY: `new:${key},old:${randomBytes(32).toString('base64')}`,
      TOKEN_EXPIRY_SKEW_SECONDS: '10',
      GATEWAY_ROUTES: ' /v3=http://platform:8080 , /orders/=https://orders.example/api/ ',
      LOG_LEVEL: 'warn',
      GATEWAY_UPSTREAM_TIMEOUT_MS: '1500',
      TOKEN_MEMORY_CACHE: 'false',
    });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      port: 8081,
      host: '127.0.0.1',
      tokenUrl: 'https://kc.example/realms/acme/protocol/openid-connect/token',
      grantType: 'password',
      clientAuthMethod: 'client_secret_basic',
      clientId: 'gateway',
      clientSecret: 'gw-secret',
      redis: { url: 'rediss://cache.example:6380' },
      hmacKey: HMAC,
      expirySkewSeconds: 10,
      routes: [
        { prefix: '/v3', target: 'http://platform:8080' },
        { prefix: '/orders', target: 'https://orders.example/api' },
      ],
      logLevel: 'warn',
      upstreamTimeoutMs: 1500,
      memoryCache: false,
    });
    expect(config.encryptionKeys?.map((k) => k.id)).toEqual(['new', 'old']);
    expect(config.encryptionKeys?.[0].key.toString('base64')).toBe(key);
  });

  it('reads Redis Cluster and Sentinel settings', () => {
    expect(
      parseGatewayConfig({ GATEWAY_ROUTES: ROUTES, REDIS_CLUSTER_NODES: 'r1:7000, r2:7001' }).redis,
    ).toEqual({
      clusterNodes: ['r1:7000', 'r2:7001'],
    });
    expect(
      parseGatewayConfig({
        GATEWAY_ROUTES: ROUTES,
        REDIS_SENTINELS: 's1:26379,s2:26379',
        REDIS_SENTINEL_NAME: 'mymaster',
      }).redis,
    ).toEqual({ sentinel: { name: 'mymaster', sentinels: ['s1:26379', 's2:26379'] } });
  });

  it.each([
    [
      { GATEWAY_ROUTES: '/v3=ftp://x' },
      'Invalid configuration: GATEWAY_ROUTES: "/v3=ftp://x" — each entry is /prefix=http(s)://host[:port], comma-separated',
    ],
    [
      {},
      'Invalid configuration: GATEWAY_ROUTES: is required — each entry is /prefix=http(s)://host[:port], comma-separated, e.g. /v3=http://platform:8080 (or set GATEWAY_ROUTES_FILE to a routes file)',
    ],
    [{ GATEWAY_ROUTES: 'v3=http://p:1' }, 'GATEWAY_ROUTES: "v3=http://p:1" — each entry is'],
    [
      { GATEWAY_ROUTES: '/v3=http://p:1,/v3=http://q:1' },
      'GATEWAY_ROUTES: "/v3=http://q:1" — /v3 is listed twice',
    ],
    [
      { GATEWAY_ROUTES: '/token=http://p:1' },
      'GATEWAY_ROUTES: "/token=http://p:1" — /token is served by the gateway itself',
    ],
    [{ GATEWAY_ROUTES: '/:id=http://p:1' }, 'GATEWAY_ROUTES: "/:id=http://p:1" — each entry is'],
    [{ GATEWAY_ROUTES: ' , ' }, 'GATEWAY_ROUTES: is empty'],
    [
      { GATEWAY_ROUTES: '/revoke=http://p:1' },
      'GATEWAY_ROUTES: "/revoke=http://p:1" — /revoke is served by the gateway itself',
    ],
    [
      { GATEWAY_ROUTES: '/health/ready=http://p:1' },
      'GATEWAY_ROUTES: "/health/ready=http://p:1" — /health/ready lies under /health, which the gateway serves itself',
    ],
    [
      { GATEWAY_ROUTES: '/metrics/x=http://p:1' },
      'GATEWAY_ROUTES: "/metrics/x=http://p:1" — /metrics/x lies under /metrics, which the gateway serves itself',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_REVOCATION_URL: 'ftp://issuer/revoke' },
      'V3_REVOCATION_URL: "ftp://issuer/revoke" — use the http(s) URL of the issuer\'s revocation endpoint',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, GATEWAY_REAUTH_COOLDOWN_MS: '-1' },
      'GATEWAY_REAUTH_COOLDOWN_MS: "-1" — use milliseconds from 0 (no cooldown) to 3600000',
    ],
    [{ GATEWAY_ROUTES: ROUTES, PORT: 'abc' }, 'PORT: "abc" — use a TCP port number from 0 to 65535'],
    [{ GATEWAY_ROUTES: ROUTES, PORT: '70000' }, 'PORT: "70000" — use a TCP port'],
    [
      { GATEWAY_ROUTES: ROUTES, V3_GRANT_TYPE: 'implicit' },
      'V3_GRANT_TYPE: "implicit" — use one of client_credentials, password',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_CLIENT_AUTH: 'jwt' },
      'V3_CLIENT_AUTH: "jwt" — use one of client_secret_post, client_secret_basic',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_TOKEN_URL: 'not a url' },
      'V3_TOKEN_URL: "not a url" — use the http(s) URL of the token endpoint',
    ],
    [{ GATEWAY_ROUTES: ROUTES, NODE_ENV: 'production' }, 'V3_TOKEN_URL: is required in production'],
    [
      { GATEWAY_ROUTES: ROUTES, V3_GRANT_TYPE: 'password' },
      'V3_CLIENT_ID: is required with V3_GRANT_TYPE=password',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_GRANT_TYPE: 'password', V3_CLIENT_ID: 'gw' },
      'V3_CLIENT_SECRET: is required with V3_GRANT_TYPE=password',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, REDIS_URL: 'http://redis:6379' },
      'REDIS_URL: use a redis:// or rediss:// URL',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, REDIS_CLUSTER_NODES: 'r1:7000,r2' },
      'REDIS_CLUSTER_NODES: "r2" is not host:port',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, REDIS_SENTINELS: 's1:26379' },
      'REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r1:7000' },
      'set only one of REDIS_URL',
    ],
    [
      {
        GATEWAY_ROUTES: ROUTES,
        NODE_ENV: 'production',
        V3_TOKEN_URL: 'https://i/token',
        REDIS_URL: 'redis://r:6379',
      },
      'TOKEN_CACHE_HMAC_KEY: is required in production with Redis',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_CACHE_HMAC_KEY: 'short' },
      'TOKEN_CACHE_HMAC_KEY: must be at least 32 characters',
    ],
    [{ GATEWAY_ROUTES: ROUTES, TOKEN_CACHE_ENCRYPTION_KEY: 'c2hvcnQ=' }, 'TOKEN_CACHE_ENCRYPTION_KEY: '],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_EXPIRY_SKEW_SECONDS: '-1' },
      'TOKEN_EXPIRY_SKEW_SECONDS: "-1" — use whole seconds',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, LOG_LEVEL: 'verbose' },
      'LOG_LEVEL: "verbose" — use one of fatal, error, warn, info, debug, trace, silent',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, GATEWAY_UPSTREAM_TIMEOUT_MS: '0' },
      'GATEWAY_UPSTREAM_TIMEOUT_MS: "0" — use milliseconds',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_MEMORY_CACHE: 'no' },
      'TOKEN_MEMORY_CACHE: "no" — use one of true, false',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_TOKEN_TIMEOUT_MS: '0' },
      'V3_TOKEN_TIMEOUT_MS: "0" — use milliseconds from 1 to 600000',
    ],
    [{ GATEWAY_ROUTES: ROUTES, V3_TOKEN_TIMEOUT_MS: '5s' }, 'V3_TOKEN_TIMEOUT_MS: "5s" — use milliseconds'],
    [
      { GATEWAY_ROUTES: ROUTES, V3_SCOPE: 'read\twrite' },
      'V3_SCOPE: "read\twrite" — use scope names separated by single spaces',
    ],
    [{ GATEWAY_ROUTES: ROUTES, V3_SCOPE: 'say "hi"' }, 'V3_SCOPE: "say "hi"" — use scope names'],
    [
      { GATEWAY_ROUTES: ROUTES, V3_TOKEN_RETRY_ATTEMPTS: '0' },
      'V3_TOKEN_RETRY_ATTEMPTS: "0" — use a whole number of attempts from 1 (no retry) to 10',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_TOKEN_RETRY_ATTEMPTS: '2.5' },
      'V3_TOKEN_RETRY_ATTEMPTS: "2.5" — use a whole number',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_TOKEN_BREAKER_THRESHOLD: '0' },
      'V3_TOKEN_BREAKER_THRESHOLD: "0" — use a whole number of consecutive failures from 1 to 1000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_TOKEN_BREAKER_RESET_MS: '-1' },
      'V3_TOKEN_BREAKER_RESET_MS: "-1" — use milliseconds from 0 to 600000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, V3_TOKEN_MAX_CONCURRENCY: '0' },
      'V3_TOKEN_MAX_CONCURRENCY: "0" — use a whole number of calls in flight from 1 to 10000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: 'lots' },
      'TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: "lots" — use a whole number of grants per minute from 0 (no cap) to 1000000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, REDIS_KEY_PREFIX: '{v3t}:' },
      'REDIS_KEY_PREFIX: "{v3t}:" — must not contain { or } — the store adds its own hash tag',
    ],
    [{ GATEWAY_ROUTES: ROUTES, REDIS_KEY_PREFIX: 'v3t}' }, 'REDIS_KEY_PREFIX: "v3t}" — must not contain'],
    [
      { GATEWAY_ROUTES: ROUTES, REDIS_COMMAND_TIMEOUT_MS: '0' },
      'REDIS_COMMAND_TIMEOUT_MS: "0" — use milliseconds from 1 to 60000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_MEMORY_CACHE_MAX_ENTRIES: '0' },
      'TOKEN_MEMORY_CACHE_MAX_ENTRIES: "0" — use a whole number of entries from 1',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_REFRESH_AHEAD_RATIO: '1' },
      'TOKEN_REFRESH_AHEAD_RATIO: "1" — use a number from 0 (off) to below 1, e.g. 0.8',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_REFRESH_AHEAD_RATIO: '-0.1' },
      'TOKEN_REFRESH_AHEAD_RATIO: "-0.1" — use a number from 0',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_REFRESH_AHEAD_RATIO: '80%' },
      'TOKEN_REFRESH_AHEAD_RATIO: "80%" — use a number from 0',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_LOCK_LEASE_MS: '99' },
      'TOKEN_LOCK_LEASE_MS: "99" — use milliseconds from 100 to 600000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_LOCK_WAIT_MS: '600001' },
      'TOKEN_LOCK_WAIT_MS: "600001" — use milliseconds from 0 to 600000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_MAX_FAILED_ATTEMPTS: '0' },
      'TOKEN_MAX_FAILED_ATTEMPTS: "0" — use a whole number of attempts from 1 to 100000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_FAILED_ATTEMPTS_WINDOW_MS: '0' },
      'TOKEN_FAILED_ATTEMPTS_WINDOW_MS: "0" — use milliseconds from 1 to 86400000',
    ],
    [
      { GATEWAY_ROUTES: ROUTES, TOKEN_INVALID_CREDENTIALS_TTL_MS: 'off' },
      'TOKEN_INVALID_CREDENTIALS_TTL_MS: "off" — use milliseconds from 0 (off) to 3600000',
    ],
  ])('refuses %j with a line naming the variable and the fix', (env, expected) => {
    const lines = failure(env).split('\n');
    expect(lines.filter((line) => line.includes(expected))).toHaveLength(1);
    for (const line of lines) expect(line).toMatch(/^Invalid configuration: [A-Z0-9_]+: \S/);
  });

  it('reports every problem at once, one line each, those between variables too', () => {
    const env = {
      GATEWAY_ROUTES: ROUTES,
      TOKEN_EXPIRY_SKEW_SECONDS: '-1',
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      V3_GRANT_TYPE: 'password',
      V3_CLIENT_SECRET: 'gateway-secret',
      GATEWAY_HEADERS_TIMEOUT_MS: '70000',
    };
    const error = (() => {
      try {
        parseGatewayConfig(env);
      } catch (caught) {
        return caught as GatewayConfigError;
      }
      throw new Error('expected the environment to be refused');
    })();
    expect(error).toBeInstanceOf(GatewayConfigError);
    expect(error.problems.map((problem) => problem.slice(0, problem.indexOf(':'))).sort()).toEqual([
      'GATEWAY_HEADERS_TIMEOUT_MS',
      'LOG_LEVEL',
      'PORT',
      'TOKEN_EXPIRY_SKEW_SECONDS',
      'V3_CLIENT_ID',
    ]);
    expect(error.message.split('\n')).toEqual(
      error.problems.map((problem) => `Invalid configuration: ${problem}`),
    );
    expect(error.message).not.toContain('gateway-secret');
  });

  it('never shows a secret value in its message', () => {
    const secrets = {
      TOKEN_CACHE_HMAC_KEY: 'tiny-hmac-secret',
      REDIS_URL: 'http://user:redis-password@redis:6379',
      TOKEN_CACHE_ENCRYPTION_KEY: 'k1:not-base64-secret!!',
    };
    for (const [name, value] of Object.entries(secrets)) {
      const message = failure({ GATEWAY_ROUTES: ROUTES, [name]: value });
      expect(message).toContain(name);
      expect(message).not.toContain(value);
      expect(message).not.toContain('password');
    }
    const routes = failure({ GATEWAY_ROUTES: '/v3=http://admin:hunter2@p:1' });
    expect(routes).not.toContain('hunter2');
  });

  it('maps V3_JWKS_URL, V3_JWT_ISSUER and V3_JWT_AUDIENCE to the jwt option, all three or none', () => {
    const jwt = {
      V3_JWKS_URL: 'https://issuer.example/certs',
      V3_JWT_ISSUER: 'https://issuer.example',
      V3_JWT_AUDIENCE: 'orders',
    };
    expect(parseGatewayConfig({ GATEWAY_ROUTES: ROUTES }).jwt).toBeUndefined();
    expect(parseGatewayConfig({ GATEWAY_ROUTES: ROUTES, ...jwt }).jwt).toEqual({
      jwksUrl: 'https://issuer.example/certs',
      issuer: 'https://issuer.example',
      audience: 'orders',
    });
    expect(failure({ GATEWAY_ROUTES: ROUTES, ...jwt, V3_JWT_AUDIENCE: undefined })).toContain(
      'V3_JWT_AUDIENCE',
    );
    expect(failure({ GATEWAY_ROUTES: ROUTES, V3_JWT_ISSUER: 'https://issuer.example' })).toContain(
      'V3_JWKS_URL',
    );
    expect(failure({ GATEWAY_ROUTES: ROUTES, ...jwt, V3_JWKS_URL: 'not a url' })).toContain('V3_JWKS_URL');
  });

  it('gives @nestjs/config the typed config under its key', () => {
    const validated = validateGatewayEnv({ GATEWAY_ROUTES: ROUTES, PORT: '4000', UNRELATED: 1 });
    expect(validated[GATEWAY_CONFIG]).toMatchObject({ port: 4000, routes: [{ prefix: '/v3' }] });
    expect(() => validateGatewayEnv({ GATEWAY_ROUTES: '/v3=ftp://x' })).toThrow(GatewayConfigError);
  });

  it('reads the edge settings and refuses inconsistent ones, naming the variable', () => {
    const edge = parseGatewayConfig({
      GATEWAY_ROUTES: ROUTES,
      GATEWAY_HEADERS_TIMEOUT_MS: '2000',
      GATEWAY_REQUEST_TIMEOUT_MS: '3000',
      GATEWAY_BODY_IDLE_TIMEOUT_MS: '400',
      GATEWAY_KEEP_ALIVE_TIMEOUT_MS: '700',
      GATEWAY_UPSTREAM_CONNECTIONS: '4',
      GATEWAY_QUEUE_TIMEOUT_MS: '0',
      GATEWAY_MAX_INFLIGHT_PER_CLIENT: '2',
      GATEWAY_SHUTDOWN_TIMEOUT_MS: '1500',
      GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8, ::1',
      GATEWAY_COOKIES: 'forward',
      GATEWAY_ADMIN_PORT: '9090',
    }).edge;
    expect(edge).toMatchObject({
      headersTimeoutMs: 2000,
      requestTimeoutMs: 3000,
      bodyIdleTimeoutMs: 400,
      keepAliveTimeoutMs: 700,
      upstreamConnections: 4,
      queueTimeoutMs: 0,
      maxInflightPerClient: 2,
      shutdownTimeoutMs: 1500,
      cookies: 'forward',
      adminPort: 9090,
    });
    expect(edge.trustedProxies).toBeInstanceOf(TrustedProxies);
    expect(edge.trustedProxies.isTrusted('10.2.3.4')).toBe(true);
    expect(edge.trustedProxies.isTrusted('::1')).toBe(true);
    expect(edge.trustedProxies.isTrusted('192.0.2.1')).toBe(false);

    expect(failure({ GATEWAY_ROUTES: ROUTES, GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8,nope' })).toContain(
      'GATEWAY_TRUSTED_PROXIES: "nope" is not an IPv4 or IPv6 address or CIDR',
    );
    expect(
      failure({
        GATEWAY_ROUTES: ROUTES,
        GATEWAY_HEADERS_TIMEOUT_MS: '5000',
        GATEWAY_REQUEST_TIMEOUT_MS: '1000',
      }),
    ).toContain('GATEWAY_HEADERS_TIMEOUT_MS: must not exceed GATEWAY_REQUEST_TIMEOUT_MS');
    expect(failure({ GATEWAY_ROUTES: ROUTES, PORT: '9090', GATEWAY_ADMIN_PORT: '9090' })).toContain(
      'GATEWAY_ADMIN_PORT: must differ from PORT',
    );
    expect(failure({ GATEWAY_ROUTES: ROUTES, GATEWAY_COOKIES: 'eat' })).toContain(
      'use one of strip, forward',
    );
  });
});
