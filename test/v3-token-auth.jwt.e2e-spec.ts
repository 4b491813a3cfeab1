import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, UseGuards } from '@nestjs/common';
import { base64url } from 'jose';
import {
  CurrentClient,
  RequireScopes,
  V3TokenAuthGuard,
  V3TokenAuthModule,
  V3TokenService,
  type V3Principal,
} from 'nestjs-v3-token-auth';
import {
  createSigningKey,
  signJwt,
  startJwksServer,
  type JwksServer,
  type TestSigningKey,
} from './support/jwks-server.js';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import { basic, httpGet, startGuardedApp, type GuardedApp } from './support/v3-token-auth-app.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'https://orders.test';
const nowSeconds = () => Math.floor(Date.now() / 1000);

@Controller()
@UseGuards(V3TokenAuthGuard)
class JwtRoutesController {
  @Get('me')
  me(@CurrentClient() client: V3Principal): { clientId: string; scope: string | undefined } {
    return { clientId: client.clientId, scope: client.scope };
  }

  @Get('orders')
  @RequireScopes('orders:read')
  orders(): { orders: [] } {
    return { orders: [] };
  }
}

describe('V3TokenAuthModule with the jwt option: issuer JWTs as Bearer', () => {
  let server: TokenServer;
  let jwks: JwksServer;
  let key: TestSigningKey;
  let unpublished: TestSigningKey;
  let app: GuardedApp;

  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    client_id: 'orders-client',
    exp: nowSeconds() + 300,
    ...extra,
  });
  const bearer = async (extra: Record<string, unknown> = {}, signer: TestSigningKey = key) =>
    `Bearer ${await signJwt(signer, claims(extra))}`;

  beforeAll(async () => {
    [key, unpublished] = await Promise.all([createSigningKey('key-1'), createSigningKey('key-x')]);
    jwks = await startJwksServer([key]);
    server = await startTokenServer({ clients: { svc: 's3cret' } });
    app = await startGuardedApp(
      [
        V3TokenAuthModule.forRoot({
          tokenUrl: server.tokenUrl,
          retry: { attempts: 1 },
          jwt: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, jwksCooldownMs: 0 },
        }),
      ],
      'express',
      [JwtRoutesController],
    );
  });

  afterAll(async () => {
    await app?.close();
    await server?.close();
    await jwks?.close();
  });

  it('makes a valid JWT the principal, with its scopes, and never asks the token endpoint', async () => {
    const grants = server.issuer.grantCount();
    const answer = await httpGet(`${app.url}/me`, await bearer({ scope: 'orders:read profile' }));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ clientId: 'orders-client', scope: 'orders:read profile' });
    expect(server.issuer.grantCount()).toBe(grants);
  });

  it('applies @RequireScopes to the JWT scopes (scope or scp)', async () => {
    expect((await httpGet(`${app.url}/orders`, await bearer({ scp: ['orders:read'] }))).status).toBe(200);
    const refused = await httpGet(`${app.url}/orders`, await bearer({ scope: 'profile' }));
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_scope", scope="orders:read"',
    );
    expect(refused.body).toMatchObject({ error: 'insufficient_scope' });
  });

  it.each<[string, () => Promise<string>]>([
    ['expired', () => bearer({ exp: nowSeconds() - 3600 })],
    ['of another issuer', () => bearer({ iss: 'https://elsewhere.test' })],
    ['for another audience', () => bearer({ aud: 'https://billing.test' })],
    ['signed by an unpublished key', () => bearer({}, unpublished)],
    [
      'alg none',
      () => {
        const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
        return Promise.resolve(`Bearer ${header}.${base64url.encode(JSON.stringify(claims()))}.`);
      },
    ],
  ])('answers a JWT %s with 401 invalid_token, naming the problem but not the token', async (_case, make) => {
    const authorization = await make();
    const answer = await httpGet(`${app.url}/me`, authorization);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(typeof answer.body?.['message']).toBe('string');
    expect(answer.text).not.toContain(authorization.slice('Bearer '.length));
  });

  it('still accepts Basic credentials and the Bearer tokens the module hands out, which are JWTs too', async () => {
    expect((await httpGet(`${app.url}/me`, basic('svc', 's3cret'))).status).toBe(200);
    const issued = await app.app.get(V3TokenService).issueToken({
      grant_type: 'client_credentials',
      client_id: 'svc',
      client_secret: 's3cret',
    });
    expect(issued.access_token.split('.')).toHaveLength(3);
    const answer = await httpGet(`${app.url}/me`, `Bearer ${issued.access_token}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ clientId: 'svc' });
  });
});
