import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGatewayApp } from '../src/app.factory.js';
import { parseGatewayConfig } from '../src/config/gateway.config.js';
import { startRedisServer, type PrivateRedis } from '../../../test/support/redis-server.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';

const user = (name: string, password: string) =>
  `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

describe('gateway with the password grant, client_secret_basic, Redis only (e2e)', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let app: NestFastifyApplication;
  let base: string;

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([
      startTokenServer({ clients: { gateway: 'gw-secret' }, users: { jdoe: 'pa55:word', ann: 'ann-pw' } }),
      startRedisServer(),
    ]);
    app = await createGatewayApp(
      parseGatewayConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        V3_TOKEN_URL: issuer.tokenUrl,
        V3_GRANT_TYPE: 'password',
        V3_CLIENT_AUTH: 'client_secret_basic',
        V3_CLIENT_ID: 'gateway',
        V3_CLIENT_SECRET: 'gw-secret',
        REDIS_URL: redis.url,
        TOKEN_MEMORY_CACHE: 'false',
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      }),
    );
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await Promise.all([issuer?.close(), redis?.stop()]);
  });

  it('relays callers as users of the gateway client; one grant per user, served from Redis', async () => {
    const before = issuer.issuer.grantCount('gateway');
    for (let i = 0; i < 5; i++) {
      const answer = await fetch(`${base}/v3/me`, { headers: { authorization: user('jdoe', 'pa55:word') } });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ client_id: 'gateway', username: 'jdoe', path: '/v3/me' });
    }
    expect(issuer.issuer.grantCount('gateway') - before).toBe(1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/v3_token_cache_hits_total\{tier="store"\} [1-9]/);
    expect(metrics).toMatch(/v3_token_grants_total\{outcome="success",grant_type="password"\} 1/);
  });

  it('refuses a wrong user password with 401 and never a 5xx', async () => {
    const answer = await fetch(`${base}/v3/me`, { headers: { authorization: user('ann', 'wrong') } });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/Basic realm=/);
  });

  it('POST /token with grant_type=password adds the gateway client; invalid_grant is a 400', async () => {
    const ok = await fetch(`${base}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'ann', password: 'ann-pw' }),
    });
    expect(ok.status).toBe(200);
    const token = (await ok.json()) as { access_token: string; refresh_token?: string };
    const echo = await fetch(`${base}/v3/orders`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(await echo.json()).toMatchObject({ username: 'ann' });

    const refused = await fetch(`${base}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'ann', password: 'nope' }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant' });

    expect(token.refresh_token).toEqual(expect.any(String));
    const refreshed = await fetch(`${base}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: token.refresh_token as string,
      }),
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { access_token: string };
    const proxied = await fetch(`${base}/v3/again`, {
      headers: { authorization: `Bearer ${next.access_token}` },
    });
    expect(proxied.status).toBe(200);
  });
});
