import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { V3TokenAuthModule, V3TokenService } from 'nestjs-v3-token-auth';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { createSigningKey, signJwt, type TestSigningKey } from '../support/jwks-server.js';
import { sleep, startGuardedApp, type GuardedApp } from '../support/v3-token-auth-app.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'https://orders.test';
const CLIENT = { clientId: 'svc', clientSecret: 's3cret' };

/**
 * An issuer like Keycloak: its token endpoint hands out RS256 JWTs that its JWKS vouches for, and it takes
 * revocations. The JWKS can be made to fail.
 */
interface JwtIssuer {
  origin: string;
  jwksFails: boolean;
  revocations: number;
  close(): Promise<void>;
}

async function startJwtIssuer(key: TestSigningKey): Promise<JwtIssuer> {
  const issuer = { jwksFails: false, revocations: 0 } as JwtIssuer;
  const server: Server = createServer((request, response) => {
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (request.url === '/certs') {
        if (issuer.jwksFails) answer(500, { error: 'down' });
        else answer(200, { keys: [key.publicJwk] });
      } else if (request.url === '/revoke') {
        issuer.revocations += 1;
        answer(200, {});
      } else if (
        form.get('client_id') !== CLIENT.clientId ||
        form.get('client_secret') !== CLIENT.clientSecret
      ) {
        answer(401, { error: 'invalid_client' });
      } else {
        const now = Math.floor(Date.now() / 1000);
        void signJwt(key, {
          iss: ISSUER,
          aud: AUDIENCE,
          client_id: CLIENT.clientId,
          jti: randomUUID(),
          exp: now + 300,
        }).then((token) => answer(200, { access_token: token, token_type: 'Bearer', expires_in: 300 }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return issuer;
}

/**
 * Issuer JWTs are verified locally, yet a token this module handed out and then evicted (revoked, or refused by a
 * downstream) is refused as a Bearer on every instance sharing the store, including one started after the eviction;
 * and while the JWKS is down, a token the module handed out still passes on its own entry.
 */
describe('issuer JWTs the module evicted', () => {
  let key: TestSigningKey;
  let issuer: JwtIssuer;
  let redis: PrivateRedis;
  const apps: GuardedApp[] = [];

  const instance = async (): Promise<GuardedApp> => {
    const app = await startGuardedApp(
      [
        V3TokenAuthModule.forRoot({
          tokenUrl: `${issuer.origin}/token`,
          revocationUrl: `${issuer.origin}/revoke`,
          redis: { url: redis.url },
          hmacKey: 'revoked-jwt-spec-hmac-key-0123456789abcdef',
          keyPrefix: 'revoked-jwt:',
          retry: { attempts: 1 },
          jwt: { jwksUrl: `${issuer.origin}/certs`, issuer: ISSUER, audience: AUDIENCE, jwksCooldownMs: 0 },
        }),
      ],
      'fastify',
    );
    apps.push(app);
    return app;
  };
  const issue = async (app: GuardedApp): Promise<string> =>
    (
      await app.app.get(V3TokenService).issueToken({
        grant_type: 'client_credentials',
        client_id: CLIENT.clientId,
        client_secret: CLIENT.clientSecret,
      })
    ).access_token;

  beforeAll(async () => {
    key = await createSigningKey('key-1');
    [issuer, redis] = await Promise.all([startJwtIssuer(key), startRedisServer()]);
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    issuer.jwksFails = false;
  });

  afterAll(async () => {
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('refuses a revoked JWT on the instance that revoked it, on one that verified it before, and on a new one', async () => {
    const [first, second] = await Promise.all([instance(), instance()]);
    const token = await issue(first);
    expect(token.split('.')).toHaveLength(3);
    expect((await first.me(`Bearer ${token}`)).status).toBe(200);
    expect((await second.me(`Bearer ${token}`)).status).toBe(200);

    expect(await first.app.get(V3TokenService).revoke(token, CLIENT)).toBe('evicted');
    expect(issuer.revocations).toBe(1);
    await sleep(100);

    const late = await instance();
    for (const app of [first, second, late]) {
      const answer = await app.me(`Bearer ${token}`);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      expect(answer.text).not.toContain(token);
    }
    const fresh = await issue(first);
    expect(fresh).not.toBe(token);
    expect((await second.me(`Bearer ${fresh}`)).status).toBe(200);
  });

  it('refuses a JWT a downstream refused (V3TokenService.refused), as it refuses an opaque token', async () => {
    const app = await instance();
    const token = await issue(app);
    expect((await app.me(`Bearer ${token}`)).status).toBe(200);
    await app.app.get(V3TokenService).refused(token, `Bearer ${token}`);
    expect((await app.me(`Bearer ${token}`)).status).toBe(401);
  });

  it('keeps refusing an issuer JWT it never held for as long as the JWT lives, not just an hour', async () => {
    const app = await instance();
    const now = Math.floor(Date.now() / 1000);
    const eightHours = 8 * 3600;
    const jwt = await signJwt(key, {
      iss: ISSUER,
      aud: AUDIENCE,
      client_id: 'svc',
      jti: randomUUID(),
      exp: now + eightHours,
    });
    expect((await app.me(`Bearer ${jwt}`)).status).toBe(200);
    const raw = new Redis(redis.url);
    try {
      const before = new Set(await raw.keys('revoked-jwt:*'));
      await app.app.get(V3TokenService).refused(jwt, `Bearer ${jwt}`);
      expect((await app.me(`Bearer ${jwt}`)).status).toBe(401);
      const added = (await raw.keys('revoked-jwt:*')).filter((name) => !before.has(name));
      const lives = await Promise.all(added.map((name) => raw.pttl(name)));
      expect(Math.max(...lives)).toBeGreaterThan((eightHours - 60) * 1000);
    } finally {
      raw.disconnect();
    }
  });

  it('still accepts a JWT it handed out while the JWKS cannot be fetched; an unknown one gets 503', async () => {
    issuer.jwksFails = true;
    const app = await instance();
    const token = await issue(app);
    const handedOut = await app.me(`Bearer ${token}`);
    expect(handedOut.status).toBe(200);
    expect(handedOut.body).toMatchObject({ clientId: CLIENT.clientId });

    const now = Math.floor(Date.now() / 1000);
    const stranger = await signJwt(key, { iss: ISSUER, aud: AUDIENCE, client_id: 'other', exp: now + 300 });
    const unknown = await app.me(`Bearer ${stranger}`);
    expect(unknown.status).toBe(503);
    expect(unknown.text).not.toContain(stranger);
  });
});
