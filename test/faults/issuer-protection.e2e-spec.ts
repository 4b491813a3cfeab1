import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { basic } from '../support/v3-token-auth-app.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { FAULT_HMAC_KEY, startGateway, type GatewayInstance } from './fault-harness.js';
import { startKeycloakLikeIssuer, type KeycloakLikeIssuer } from './keycloak-like-issuer.js';
import { rawHttp, rawHttpBurst, rawTokenRequest, tokenRequest, type RawAnswer } from './raw-http.js';

const SECRETS = { svc: 'svc-right-secret', busy: 'busy-right-secret', calm: 'calm-right-secret' };

const proxied = (gateway: GatewayInstance, from: string, clientId: string, secret: string) =>
  rawHttp(gateway.url, from, {
    method: 'GET',
    path: '/api/orders',
    headers: { authorization: basic(clientId, secret) },
  });

const clientCredentials = (clientId: string, secret: string, extra: Record<string, string> = {}) => ({
  grant_type: 'client_credentials',
  client_id: clientId,
  client_secret: secret,
  ...extra,
});

function expectNoSecret(answers: RawAnswer[], secrets: string[]): void {
  for (const answer of answers) for (const secret of secrets) expect(answer.text).not.toContain(secret);
}

/** Issue 10 item 2: a refused request is the caller's 400, never a refused secret. */
describe('faults: request failures are not credential failures (Keycloak-like issuer)', () => {
  let issuer: KeycloakLikeIssuer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    issuer = await startKeycloakLikeIssuer({ clients: SECRETS, scopes: ['read'] });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      // The gateway's own scope for proxied routes; the realm does not know it yet.
      V3_SCOPE: 'orders',
      TOKEN_MAX_FAILED_ATTEMPTS: '3',
      TOKEN_INVALID_CREDENTIALS_TTL_MS: '60000',
      V3_TOKEN_BREAKER_THRESHOLD: '1',
    });
  });

  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('POST /token: invalid_scope is a 400 each time (never 429, never remembered); the same secret with a valid scope gets its token', async () => {
    const refused: RawAnswer[] = [];
    for (let i = 0; i < 8; i++) {
      refused.push(
        await rawTokenRequest(
          gateway.url,
          '127.0.0.2',
          clientCredentials('svc', SECRETS.svc, { scope: 'admin' }),
        ),
      );
    }
    for (const answer of refused) {
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: 'invalid_scope' });
      expect(String(answer.body?.error_description)).toContain('admin');
    }
    expect(issuer.callsOf('svc')).toBe(8);

    const granted = await rawTokenRequest(
      gateway.url,
      '127.0.0.2',
      clientCredentials('svc', SECRETS.svc, { scope: 'read' }),
    );
    expect(granted.status).toBe(200);
    expect(typeof granted.body?.access_token).toBe('string');
    expect(gateway.tokens.health().issuer).toBe('closed');
    expectNoSecret([...refused, granted], [SECRETS.svc]);
  });

  it('proxy: invalid_scope is a JSON 400 each time; once the realm knows the scope, the same secret is served at once', async () => {
    const refused: RawAnswer[] = [];
    for (let i = 0; i < 8; i++) refused.push(await proxied(gateway, '127.0.0.3', 'calm', SECRETS.calm));
    for (const answer of refused) {
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ statusCode: 400, oauthError: 'invalid_scope' });
    }
    expect(issuer.callsOf('calm')).toBe(8);

    issuer.scopes.add('orders');
    const served = await proxied(gateway, '127.0.0.3', 'calm', SECRETS.calm);
    expect(served.status).toBe(200);
    expect(served.body).toEqual({ ok: true });
    expect(issuer.callsOf('calm')).toBe(9);
    expect(gateway.tokens.health().issuer).toBe('closed');
    expectNoSecret([...refused, served], [SECRETS.calm]);
  });
});

/** Issue 11 item 3: the issuer's 429 for one client is that client's, and the breaker never counts it. */
describe("faults: an issuer's 429 for one client", () => {
  let issuer: KeycloakLikeIssuer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    issuer = await startKeycloakLikeIssuer({ clients: SECRETS, scopes: [] });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      V3_TOKEN_BREAKER_THRESHOLD: '1',
    });
  });

  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it("answers that client 429 with the issuer's Retry-After until it passes, without asking again; others are served", async () => {
    issuer.throttledClients.set('busy', 30);
    const first = await rawTokenRequest(gateway.url, '127.0.0.2', clientCredentials('busy', SECRETS.busy));
    expect(first.status).toBe(429);
    expect(first.body).toMatchObject({ error: 'slow_down' });
    expect(Number(first.headers['retry-after'])).toBe(30);

    const again = await proxied(gateway, '127.0.0.3', 'busy', SECRETS.busy);
    expect(again.status).toBe(429);
    expect(Number(again.headers['retry-after'])).toBeGreaterThanOrEqual(28);
    expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect(issuer.callsOf('busy')).toBe(1);

    const calm = await proxied(gateway, '127.0.0.2', 'calm', SECRETS.calm);
    expect(calm.status).toBe(200);
    expect(gateway.tokens.health().issuer).toBe('closed');
    expect(await gateway.metric('v3_token_grants_refused_total', { reason: 'issuer_throttled' })).toBe(1);
    expect(await gateway.metric('v3_token_grants_total', { outcome: 'throttled_by_issuer' })).toBe(1);
  });
});

/** Issue 11 item 3: a bounded queue of calls to the issuer; waiting is not the issuer's failure. */
describe('faults: the call queue in front of a slow issuer', () => {
  let issuer: KeycloakLikeIssuer;
  let gateway: GatewayInstance;
  const clients = Object.fromEntries([0, 1, 2, 3].map((i) => [`queued-${i}`, `queued-secret-${i}`]));

  beforeAll(async () => {
    issuer = await startKeycloakLikeIssuer({ clients, scopes: [], delayMs: 800 });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      V3_TOKEN_MAX_CONCURRENCY: '1',
      V3_TOKEN_QUEUE_SIZE: '2',
      V3_TOKEN_QUEUE_WAIT_MS: '10000',
      V3_TOKEN_TIMEOUT_MS: '2000',
      V3_TOKEN_RETRY_ATTEMPTS: '1',
      V3_TOKEN_BREAKER_THRESHOLD: '1',
    });
  });

  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('serves the calls that fit (each timed from when it is sent), answers the one that does not 503 + Retry-After, breaker closed', async () => {
    // From four addresses: one address may hold at most half of the issuer's calls and queue (here 2 of 3).
    const answers = await Promise.all(
      Object.entries(clients).map(([id, secret], i) =>
        rawTokenRequest(gateway.url, `127.0.0.${2 + i}`, clientCredentials(id, secret)),
      ),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 200, 503]);
    const full = answers.find((answer) => answer.status === 503) as RawAnswer;
    expect(full.body).toMatchObject({ error: 'temporarily_unavailable' });
    expect(String(full.body?.error_description)).toMatch(/waiting for the issuer/);
    expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(issuer.calls).toBe(3);
    expect(issuer.maxConcurrent).toBe(1);
    expect(gateway.tokens.health().issuer).toBe('closed');
    expect(await gateway.metric('v3_token_issuer_queue_rejected_total', { reason: 'full' })).toBe(1);
  });
});

/** Issue 11 item 3 and its attack test: floods of junk ids and 4xx storms leave the issuer and the breaker alone. */
describe('faults: floods of unknown client ids against an issuer that takes 50 ms', () => {
  let issuer: KeycloakLikeIssuer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    issuer = await startKeycloakLikeIssuer({ clients: SECRETS, scopes: ['read'], delayMs: 50 });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      // Tight enough that calls timed while they wait for a connection would look like a dead issuer.
      V3_TOKEN_TIMEOUT_MS: '2000',
    });
  });

  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('600 concurrent distinct unknown ids leave the breaker closed and a real cold client is served right after', async () => {
    const flood = await rawHttpBurst(
      gateway.url,
      Array.from({ length: 600 }, (_, i) => ({
        localAddress: '127.0.0.2',
        request: tokenRequest(clientCredentials(`junk-${i}`, `junk-secret-${i}`)),
      })),
    );
    const statuses = new Set(flood.map((answer) => answer.status));
    // 408: the edge's own bound on a request head it could not read in time under the burst.
    for (const status of statuses) expect([401, 408, 429, 503]).toContain(status);
    expect(statuses.has(429)).toBe(true);
    // The default of 120 cold grants per address per minute bounds what reaches the issuer.
    expect(issuer.calls).toBeLessThanOrEqual(120);
    expect(issuer.maxConcurrent).toBeLessThanOrEqual(16);
    expect(gateway.tokens.health().issuer).toBe('closed');

    const owner = await rawTokenRequest(gateway.url, '127.0.0.3', clientCredentials('svc', SECRETS.svc));
    expect(owner.status).toBe(200);
    expect(typeof owner.body?.access_token).toBe('string');
  }, 120_000);
});

/** One address's burst of cold grants takes at most half of the issuer's calls and queue: the rest stay for others. */
describe("faults: one address's burst against a slow issuer's queue", () => {
  let issuer: KeycloakLikeIssuer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    issuer = await startKeycloakLikeIssuer({ clients: SECRETS, scopes: [], delayMs: 1000 });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      V3_TOKEN_MAX_CONCURRENCY: '2',
      V3_TOKEN_QUEUE_SIZE: '6',
      V3_TOKEN_QUEUE_WAIT_MS: '10000',
      V3_TOKEN_TIMEOUT_MS: '5000',
      V3_TOKEN_RETRY_ATTEMPTS: '1',
    });
  });

  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('answers the excess of one address 429 and leaves a real cold client from another its place in the queue', async () => {
    const flood = rawHttpBurst(
      gateway.url,
      Array.from({ length: 20 }, (_, i) => ({
        localAddress: '127.0.0.2',
        request: tokenRequest(clientCredentials(`burst-${i}`, `burst-secret-${i}`)),
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const owner = await rawTokenRequest(gateway.url, '127.0.0.3', clientCredentials('calm', SECRETS.calm));
    expect(owner.status).toBe(200);
    const statuses = (await flood).map((answer) => answer.status);
    // Half of 2 calls + 6 waiting: 4 of the burst reach the issuer (refused: unknown ids), the rest are its own 429.
    expect(statuses.filter((status) => status === 401)).toHaveLength(4);
    expect(statuses.filter((status) => status === 429)).toHaveLength(16);
    expect(statuses.filter((status) => status === 503)).toHaveLength(0);
  }, 60_000);
});

/** Issue 11 item 3: the breaker counts only the issuer's own failures; no 4xx moves it. */
describe('faults: 4xx storms and the circuit breaker', () => {
  let issuer: KeycloakLikeIssuer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    issuer = await startKeycloakLikeIssuer({ clients: SECRETS, scopes: ['read'], delayMs: 50 });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      V3_TOKEN_BREAKER_THRESHOLD: '2',
    });
  });

  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('4xx storms (invalid_client, invalid_scope) from several addresses never open the breaker', async () => {
    const storm: Promise<RawAnswer>[] = [];
    for (let i = 0; i < 40; i++) {
      const from = `127.0.0.${4 + (i % 4)}`;
      storm.push(
        rawTokenRequest(
          gateway.url,
          from,
          i % 2 === 0
            ? clientCredentials(`storm-${i}`, 'whatever')
            : clientCredentials('busy', SECRETS.busy, { scope: `unknown-${i}` }),
        ),
      );
    }
    const answers = await Promise.all(storm);
    for (const answer of answers) expect([400, 401, 429]).toContain(answer.status);
    expect(answers.filter((answer) => answer.status === 400).length).toBe(20);
    expect(gateway.tokens.health().issuer).toBe('closed');
    expect(await gateway.metric('v3_token_breaker_state')).toBe(0);
    const served = await proxied(gateway, '127.0.0.8', 'calm', SECRETS.calm);
    expect(served.status).toBe(200);
  });
});

/** Issue 11 item 3: cold grants per caller address are capped; known-good secrets and other addresses are not. */
describe('faults: cold grants per caller address', () => {
  let issuer: KeycloakLikeIssuer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    issuer = await startKeycloakLikeIssuer({ clients: SECRETS, scopes: ['read', 'write'] });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: '5',
      TOKEN_MAX_FAILED_ATTEMPTS: '100',
    });
  });

  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('answers the address past its limit 429 with Retry-After; its known-good secret and other addresses still get tokens', async () => {
    const owner = await rawTokenRequest(gateway.url, '127.0.0.2', clientCredentials('svc', SECRETS.svc));
    expect(owner.status).toBe(200);
    const junk: RawAnswer[] = [];
    for (let i = 0; i < 5; i++) {
      junk.push(await rawTokenRequest(gateway.url, '127.0.0.2', clientCredentials(`cold-${i}`, 'guess')));
    }
    expect(junk.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 429]);
    expect(junk[4].body).toMatchObject({ error: 'slow_down' });
    expect(Number(junk[4].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(junk[4].headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(issuer.calls).toBe(5);

    // The owner's token is gone (evicted): its next request is a cold grant again, of a known-good secret, never capped.
    await gateway.tokens.invalidate(await gateway.tokens.authenticate(basic('svc', SECRETS.svc)));
    const ownerAgain = await rawTokenRequest(gateway.url, '127.0.0.2', clientCredentials('svc', SECRETS.svc));
    expect(ownerAgain.status).toBe(200);
    expect(issuer.callsOf('svc')).toBe(2);
    expect(await gateway.metric('v3_token_grants_refused_total', { reason: 'cold_grant_limit' })).toBe(1);
    const elsewhere = await proxied(gateway, '127.0.0.3', 'calm', SECRETS.calm);
    expect(elsewhere.status).toBe(200);
  });
});

/** Issue 11 item 3 over a fleet: two instances on one Redis count one address's cold grants together. */
describe('faults: cold grants per caller address, two instances on one Redis', () => {
  let issuer: KeycloakLikeIssuer;
  let redis: PrivateRedis;
  let a: GatewayInstance;
  let b: GatewayInstance;

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([
      startKeycloakLikeIssuer({ clients: SECRETS, scopes: ['read', 'write'] }),
      startRedisServer(),
    ]);
    const env = {
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${issuer.baseUrl}`,
      TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: '4',
      TOKEN_MAX_FAILED_ATTEMPTS: '100',
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
    };
    [a, b] = [await startGateway(env), await startGateway(env)];
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('an address alternating between the instances gets the limit once, not once per instance', async () => {
    const junk: RawAnswer[] = [];
    for (let i = 0; i < 8; i++) {
      const instance = i % 2 === 0 ? a : b;
      junk.push(
        await rawTokenRequest(instance.url, '127.0.0.2', clientCredentials(`fleet-cold-${i}`, 'guess')),
      );
    }
    expect(junk.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 429, 429, 429, 429]);
    expect(junk[5].body).toMatchObject({ error: 'slow_down' });
    // Per client, so that a failure says whether a grant was sent twice or a refused one reached the issuer.
    expect({
      calls: issuer.calls,
      perClient: junk.map((_, i) => issuer.callsOf(`fleet-cold-${i}`)),
    }).toEqual({ calls: 4, perClient: [1, 1, 1, 1, 0, 0, 0, 0] });
    const refusals =
      (await a.metric('v3_token_grants_refused_total', { reason: 'cold_grant_limit' })) +
      (await b.metric('v3_token_grants_refused_total', { reason: 'cold_grant_limit' }));
    expect(refusals).toBe(4);

    // Another address, on either instance, still gets its grants.
    const elsewhere = await proxied(b, '127.0.0.3', 'calm', SECRETS.calm);
    expect(elsewhere.status).toBe(200);
  });
});
