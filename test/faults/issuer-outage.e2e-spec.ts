import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { V3TokenAuthModuleOptions } from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic, sleep } from '../support/v3-token-auth-app.js';
import {
  CountingObserver,
  startGateway,
  startModuleApp,
  type GatewayInstance,
  type ModuleInstance,
} from './fault-harness.js';

const CLIENTS: Record<string, string> = Object.fromEntries(
  [
    'slow',
    'limited',
    'unlimited',
    'refused',
    'malformed',
    'dropped',
    'cached',
    'gw-cached',
    ...Array.from({ length: 8 }, (_, i) => `cold-${i}`),
    ...Array.from({ length: 7 }, (_, i) => `gw-cold-${i}`),
  ].map((id) => [id, `${id}-secret`]),
);
const header = (id: string): string => basic(id, CLIENTS[id]);

/**
 * Issue 4, item 4: the real sandbox token endpoint made slow, rate-limited, failing or unreachable at runtime.
 * Module apps set small timeouts, retries and breaker thresholds; the gateway shows the same through HTTP.
 */
describe('faults: issuer outage and slowness', () => {
  let issuer: TokenServer;
  const closers: (() => Promise<void>)[] = [];

  const moduleApp = async (options: Partial<V3TokenAuthModuleOptions>): Promise<ModuleInstance> => {
    const app = await startModuleApp({ tokenUrl: issuer.tokenUrl, ...options });
    closers.push(() => app.close());
    return app;
  };

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: CLIENTS });
  });

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    issuer.issuer.reset();
  });

  afterAll(() => issuer.close());

  it('times out a slow issuer, retries a bounded number of times, and answers 503 with Retry-After', async () => {
    const app = await moduleApp({ timeoutMs: 200, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 100 } });
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 3000 });

    const answer = await app.me(header('slow'));

    expect(answer.status).toBe(503);
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(answer.body).toMatchObject({ statusCode: 503, oauthError: 'temporarily_unavailable' });
    expect(answer.ms).toBeGreaterThanOrEqual(400);
    expect(answer.ms).toBeLessThan(1500);
    expect(issuer.issuer.grantCount('slow')).toBe(2);
  });

  it("honours the issuer's 429 for that client: 429 with its Retry-After, not retried, the client held back until then", async () => {
    const app = await moduleApp({ retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 3000 } });
    issuer.issuer.setFaults({ mode: 'rate_limited', retryAfterSeconds: 2 });

    const answer = await app.me(header('limited'));
    issuer.issuer.setFaults({ mode: 'none' });
    const heldBack = await app.me(header('limited'));
    const other = await app.me(header('unlimited'));

    for (const limited of [answer, heldBack]) {
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ statusCode: 429, oauthError: 'slow_down' });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    }
    expect(issuer.issuer.grants.filter((g) => g.clientId === 'limited').map((g) => g.status)).toEqual([429]);
    expect(other.status).toBe(200);
    expect(app.tokens.health().issuer).toBe('closed');
  });

  it('never retries answers that retrying cannot fix: refused credentials (401) and malformed answers (502)', async () => {
    const app = await moduleApp({ retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });

    const refused = await app.me(basic('refused', 'not-the-secret'));
    issuer.issuer.setFaults({ mode: 'malformed' });
    const malformed = await app.me(header('malformed'));
    issuer.issuer.setFaults({ mode: 'html' });
    const html = await app.me(header('malformed'));

    expect(refused.status).toBe(401);
    expect(malformed.status).toBe(502);
    expect(html.status).toBe(502);
    expect(issuer.issuer.grantCount('refused')).toBe(1);
    expect(issuer.issuer.grantCount('malformed')).toBe(2);
    expect(app.tokens.health().issuer).toBe('closed');
  });

  it('answers 503 (never 500) when the issuer drops the connection', async () => {
    const app = await moduleApp({ retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } });
    issuer.issuer.setFaults({ mode: 'drop' });

    const answer = await app.me(header('dropped'));

    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).not.toBeNull();
    expect(issuer.issuer.grantCount('dropped')).toBe(2);
  });

  it('opens the circuit so a dead issuer is not hammered, keeps cached tokens serving, and recovers without a restart', async () => {
    const observer = new CountingObserver();
    const app = await moduleApp({
      retry: { attempts: 1 },
      circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 1000 },
      observer,
    });
    const warm = await app.me(header('cached'));
    expect(warm.status).toBe(200);
    issuer.issuer.setFaults({ mode: 'unavailable', retryAfterSeconds: 0 });

    const failing = [];
    for (let i = 0; i < 3; i++) failing.push(await app.me(header(`cold-${i}`)));
    const reached = issuer.issuer.grantCount();
    const fastFails = [];
    for (let i = 3; i < 8; i++) fastFails.push(await app.me(header(`cold-${i}`)));
    const cached = await Promise.all(Array.from({ length: 5 }, () => app.me(header('cached'))));

    expect(failing.map((answer) => answer.status)).toEqual([503, 503, 503]);
    expect(fastFails.map((answer) => answer.status)).toEqual([503, 503, 503, 503, 503]);
    for (const answer of fastFails) {
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.ms).toBeLessThan(500);
    }
    expect(issuer.issuer.grantCount()).toBe(reached);
    expect(reached).toBe(4);
    expect(cached.map((answer) => answer.body?.accessToken)).toEqual(
      cached.map(() => warm.body?.accessToken),
    );
    expect(app.tokens.health().issuer).toBe('open');
    expect(observer.count('breaker:open')).toBe(1);
    expect(observer.count('grant:circuit_open')).toBe(5);

    issuer.issuer.setFaults({ mode: 'none' });
    await sleep(1100);
    const recovered = await app.me(header('cold-3'));

    expect(recovered.status).toBe(200);
    expect(app.tokens.health().issuer).toBe('closed');
    expect(observer.count('breaker:half_open')).toBe(1);
    expect(observer.count('breaker:closed')).toBe(1);
    expect((await app.me(header('cold-4'))).status).toBe(200);
  });

  describe('through the gateway', () => {
    let gateway: GatewayInstance;

    beforeAll(async () => {
      gateway = await startGateway({
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      });
    });

    afterAll(() => gateway.close());

    it('answers 503 with Retry-After on both paths, shows the open breaker in /health and /metrics, and keeps cached tokens serving', async () => {
      expect((await gateway.get('/v3/warm', header('gw-cached'))).status).toBe(200);
      expect(await gateway.metric('v3_token_breaker_state')).toBe(0);
      issuer.issuer.setFaults({ mode: 'unavailable', retryAfterSeconds: 0 });

      const failing = [];
      for (let i = 0; i < 5; i++) failing.push(await gateway.get('/v3/x', header(`gw-cold-${i}`)));
      const reached = issuer.issuer.grantCount();
      const proxied = await gateway.get('/v3/x', header('gw-cold-5'));
      const token = await gateway.token({
        grant_type: 'client_credentials',
        client_id: 'gw-cold-6',
        client_secret: CLIENTS['gw-cold-6'],
      });
      const cached = await gateway.get('/v3/still-served', header('gw-cached'));

      expect(failing.map((answer) => answer.status)).toEqual([503, 503, 503, 503, 503]);
      expect(reached).toBe(1 + 5 * 3);
      expect(issuer.issuer.grantCount()).toBe(reached);
      expect(proxied.status).toBe(503);
      expect(Number(proxied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(proxied.body).toMatchObject({ statusCode: 503 });
      expect(token.status).toBe(503);
      expect(Number(token.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(token.body).toMatchObject({ error: 'temporarily_unavailable' });
      expect(cached.status).toBe(200);
      expect(cached.body).toMatchObject({ client_id: 'gw-cached', path: '/v3/still-served' });

      const health = await gateway.health();
      expect(health.status).toBe(200);
      expect(JSON.stringify(health.body)).toContain('"state":"open"');
      expect(await gateway.metric('v3_token_breaker_state')).toBe(2);
      expect(await gateway.metric('v3_token_grants_total', { outcome: 'circuit_open' })).toBe(2);
      expect(await gateway.metric('v3_token_grants_total', { outcome: 'unavailable' })).toBe(5);
    });
  });
});
