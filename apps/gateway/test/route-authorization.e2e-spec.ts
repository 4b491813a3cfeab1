import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { Agent, request as undiciRequest } from 'undici';
import { FAULT_HMAC_KEY, startGateway, type GatewayInstance } from '../../../test/faults/fault-harness.js';
import {
  createSigningKey,
  signJwt,
  startJwksServer,
  type JwksServer,
  type TestSigningKey,
} from '../../../test/support/jwks-server.js';
import { startOidcProvider, type OidcProviderServer } from '../../../test/support/oidc-provider.js';
import { startRedisServer, type PrivateRedis } from '../../../test/support/redis-server.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

const ORDERS_AUDIENCE = 'https://orders.example';
const JWT_ISSUER = 'https://issuer.routes.test';
const JWT_AUDIENCE = 'gateway';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const READER = basic('reader', 'reader-secret-1');
const WRITER = basic('writer', 'writer-secret-2');

/**
 * Issue 14: per-route authorization from a routes file (YAML), against a real issuer (`oidc-provider`, scopes per
 * client, RFC 8707 resource servers), a real JWKS endpoint for issuer JWTs, a private Redis and an echo downstream.
 */
describe('gateway: per-route scopes, audience and public routes from GATEWAY_ROUTES_FILE', () => {
  let issuer: OidcProviderServer;
  let jwks: JwksServer;
  let key: TestSigningKey;
  let redis: PrivateRedis;
  let echo: EchoServer;
  let gateway: GatewayInstance;
  let dir: string;

  beforeAll(async () => {
    [issuer, key, redis, echo] = await Promise.all([
      startOidcProvider({
        clients: [
          { client_id: 'reader', client_secret: 'reader-secret-1', scope: 'orders:read' },
          { client_id: 'writer', client_secret: 'writer-secret-2', scope: 'orders:read orders:write' },
        ],
        resourceServers: { [ORDERS_AUDIENCE]: { scope: 'orders:read orders:write' } },
      }),
      createSigningKey('routes-key'),
      startRedisServer(),
      startEchoServer(),
    ]);
    jwks = await startJwksServer([key]);
    dir = mkdtempSync(join(tmpdir(), 'routes-e2e-'));
    const routesFile = join(dir, 'routes.yaml');
    writeFileSync(
      routesFile,
      [
        'routes:',
        '  - prefix: /orders',
        `    target: ${echo.url}/orders-service`,
        '    scopes: [orders:read]',
        `    audience: ${ORDERS_AUDIENCE}`,
        '  - prefix: /orders-admin',
        `    target: ${echo.url}`,
        '    scopes: [orders:write]',
        '  - prefix: /docs',
        `    target: ${echo.url}`,
        '    public: true',
        '  - prefix: /slow-route',
        `    target: ${echo.url}`,
        '    scopes: []',
        '    timeoutMs: 300',
      ].join('\n'),
    );
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES_FILE: routesFile,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
      V3_JWKS_URL: jwks.url,
      V3_JWT_ISSUER: JWT_ISSUER,
      V3_JWT_AUDIENCE: JWT_AUDIENCE,
      TOKEN_MAX_FAILED_ATTEMPTS: '3',
    });
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([issuer?.close(), jwks?.close(), redis?.stop(), echo?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A JWT of the test issuer, meant for the gateway and the orders route unless `claims` say otherwise. */
  const issuerJwt = (claims: Record<string, unknown>) =>
    signJwt(key, {
      iss: JWT_ISSUER,
      aud: [JWT_AUDIENCE, ORDERS_AUDIENCE],
      sub: 'svc-1',
      exp: Math.floor(Date.now() / 1000) + 300,
      ...claims,
    });

  /** The Authorization header the downstream saw on the last request to `path`. */
  const relayedTo = (path: string): string | undefined =>
    echo.seen.filter((seen) => seen.url.endsWith(path)).at(-1)?.headers.authorization;

  const expectInsufficientScope = (
    answer: Awaited<ReturnType<GatewayInstance['get']>>,
    required: string,
  ): void => {
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'insufficient_scope', scope: required });
    expect(answer.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="${required}"`,
    );
  };

  it("grants a Basic caller exactly the route's scopes for the route's audience, and relays that token", async () => {
    const answer = await gateway.get('/orders/42', WRITER);
    expect(answer.status).toBe(200);
    const relayed = relayedTo('/orders-service/orders/42');
    expect(relayed).toMatch(/^Bearer /);
    const claims = decodeJwt(relayed!.slice('Bearer '.length));
    expect(claims.aud).toBe(ORDERS_AUDIENCE);
    expect(claims.scope).toBe('orders:read');
    expect(claims.client_id).toBe('writer');
  });

  it('gives the same client another token (its own cache entry) on a route with other scopes', async () => {
    expect((await gateway.get('/orders/1', WRITER)).status).toBe(200);
    const forOrders = relayedTo('/orders-service/orders/1');
    expect((await gateway.get('/orders-admin/1', WRITER)).status).toBe(200);
    const forAdmin = relayedTo('/orders-admin/1');
    expect(forAdmin).toMatch(/^Bearer /);
    expect(forAdmin).not.toBe(forOrders);
    expect((await gateway.get('/orders/2', WRITER)).status).toBe(200);
    expect(relayedTo('/orders-service/orders/2')).toBe(forOrders);
  });

  it('answers 403 insufficient_scope to a Basic caller whose client may not have the scope, reaching nobody', async () => {
    const before = echo.seen.length;
    expectInsufficientScope(await gateway.get('/orders-admin/7', READER), 'orders:write');
    expect(echo.seen.length).toBe(before);
    expect((await gateway.get('/orders/7', READER)).status).toBe(200);
  });

  it('answers every probe of a route the client lacks scopes for with 403, and its own route keeps working elsewhere', async () => {
    const from = (localAddress: string) => new Agent({ localAddress });
    const prober = from('127.0.0.2');
    const owner = from('127.0.0.3');
    try {
      for (let i = 0; i < 6; i++) {
        const answer = await undiciRequest(`${gateway.url}/orders-admin/probe`, {
          headers: { authorization: READER },
          dispatcher: prober,
        });
        expect(answer.statusCode).toBe(403);
        expect(await answer.body.json()).toMatchObject({ error: 'insufficient_scope' });
      }
      const answer = await undiciRequest(`${gateway.url}/orders/mine`, {
        headers: { authorization: READER },
        dispatcher: owner,
      });
      expect(answer.statusCode).toBe(200);
      await answer.body.dump();
      expect(echo.seen.some((seen) => seen.url.endsWith('/probe'))).toBe(false);
    } finally {
      await Promise.all([prober.close(), owner.close()]);
    }
  });

  it('answers 403 to a Bearer token from POST /token that lacks the scope, and relays one that has it', async () => {
    const granted = await gateway.token({
      grant_type: 'client_credentials',
      client_id: 'reader',
      client_secret: 'reader-secret-1',
      scope: 'orders:read',
      resource: ORDERS_AUDIENCE,
    });
    expect(granted.status).toBe(200);
    const bearer = `Bearer ${String(granted.body?.access_token)}`;
    const before = echo.seen.length;
    expectInsufficientScope(await gateway.get('/orders-admin/b', bearer), 'orders:write');
    expect(echo.seen.length).toBe(before);
    expect((await gateway.get('/orders/b', bearer)).status).toBe(200);
    expect(relayedTo('/orders-service/orders/b')).toBe(bearer);
  });

  it("answers 401 invalid_token to a Bearer token not meant for the route's audience, reaching nobody", async () => {
    // An attacker holding a token granted for another API (or for none) replays it on the orders route.
    const forNone = await gateway.token({
      grant_type: 'client_credentials',
      client_id: 'writer',
      client_secret: 'writer-secret-2',
      scope: 'orders:read',
    });
    expect(forNone.status).toBe(200);
    const jwt = (aud: string | string[]) =>
      issuerJwt({ aud, sub: 'svc-2', scope: 'orders:read orders:write' });
    const replayed = [
      `Bearer ${String(forNone.body?.access_token)}`,
      `Bearer ${await jwt(JWT_AUDIENCE)}`,
      `Bearer ${await jwt([JWT_AUDIENCE, 'https://billing.example'])}`,
    ];
    const before = echo.seen.length;
    for (const bearer of replayed) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = await gateway.get('/orders/replay', bearer);
        expect(answer.status).toBe(401);
        expect(answer.body).toMatchObject({
          oauthError: 'invalid_token',
          message: `The token is not meant for ${ORDERS_AUDIENCE} (its audience does not list it)`,
        });
        expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
      }
    }
    expect(echo.seen.length).toBe(before);
    // The same tokens pass on a route without an audience, and a JWT that lists the route's audience passes here.
    expect((await gateway.get('/orders-admin/replay', replayed[1])).status).toBe(200);
    const meant = `Bearer ${await jwt([JWT_AUDIENCE, ORDERS_AUDIENCE])}`;
    expect((await gateway.get('/orders/meant', meant)).status).toBe(200);
    expect(relayedTo('/orders-service/orders/meant')).toBe(meant);
  });

  it('checks the scope and scp claims of issuer JWTs against the route, relaying the JWT as it is', async () => {
    const reader = await issuerJwt({ scope: 'profile orders:read' });
    const writer = await issuerJwt({ scp: ['orders:read', 'orders:write'] });
    const bare = await issuerJwt({});

    const before = echo.seen.length;
    expectInsufficientScope(await gateway.get('/orders-admin/j', `Bearer ${reader}`), 'orders:write');
    expectInsufficientScope(await gateway.get('/orders/j0', `Bearer ${bare}`), 'orders:read');
    expect(echo.seen.length).toBe(before);

    expect((await gateway.get('/orders/j1', `Bearer ${reader}`)).status).toBe(200);
    expect(relayedTo('/orders-service/orders/j1')).toBe(`Bearer ${reader}`);
    expect((await gateway.get('/orders-admin/j2', `Bearer ${writer}`)).status).toBe(200);
    expect(relayedTo('/orders-admin/j2')).toBe(`Bearer ${writer}`);
  });

  it('answers a public route without authentication and relays no Authorization, whatever the caller sent', async () => {
    const anonymous = await gateway.get('/docs/a');
    expect(anonymous.status).toBe(200);
    expect(echo.seen.at(-1)?.url).toBe('/docs/a');
    expect(echo.seen.at(-1)?.headers.authorization).toBeUndefined();

    const withCredentials = await gateway.get('/docs/b', READER);
    expect(withCredentials.status).toBe(200);
    expect(echo.seen.at(-1)?.url).toBe('/docs/b');
    expect(echo.seen.at(-1)?.headers.authorization).toBeUndefined();

    expect((await gateway.get('/docs/c', 'Bearer not-a-token')).status).toBe(200);
    expect((await gateway.get('/docs/status/401', READER)).status).toBe(401);
  });

  it("bounds a route's downstream call by its own timeoutMs", async () => {
    const answer = await gateway.get('/slow-route/slow?ms=3000', READER);
    expect(answer.status).toBe(504);
    expect(answer.body?.message).toBe('The downstream service of /slow-route did not answer within 300 ms');
  });

  it('still answers 401 to wrong credentials on a scoped route', async () => {
    const answer = await gateway.get('/orders-admin/x', basic('writer', 'wrong-secret'));
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toContain('Basic');
  });

  it("a downstream 401 on a scoped route costs the route's token one re-grant, then the cooldown; the client's other route is untouched", async () => {
    const writer = basic('writer', 'writer-secret-2');
    expect((await gateway.get('/orders/x', writer)).status).toBe(200);
    const before = issuer.grantCount();
    // The retry spends the window's one re-grant (for /orders-admin's scopes), and its token is refused too.
    const refused = await gateway.get('/orders-admin/status/401', writer);
    expect(refused.status).toBe(401);
    const spent = issuer.grantCount();
    expect(spent).toBeGreaterThan(before);
    const cooled = await gateway.get('/orders-admin/status/401', writer);
    expect(cooled.status).toBe(401);
    expect(cooled.body?.oauthError).toBe('invalid_token');
    expect(issuer.grantCount()).toBe(spent);
    // The window is the /orders-admin identity's: the same credentials' /orders token, evicted too, is granted again.
    const ordersToken = relayedTo('/orders/x')?.replace(/^Bearer /, '');
    expect(ordersToken).toBeDefined();
    await gateway.tokens.invalidate(ordersToken!);
    expect((await gateway.get('/orders/x', writer)).status).toBe(200);
    expect(issuer.grantCount()).toBe(spent + 1);
    expect(relayedTo('/orders/x')).not.toBe(`Bearer ${ordersToken}`);
  });
});
