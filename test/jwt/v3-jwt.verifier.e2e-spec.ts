import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { base64url, SignJWT } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { V3InvalidTokenException, V3IssuerUnavailableException, V3JwtVerifier } from 'nestjs-v3-token-auth';
import {
  createSigningKey,
  signJwt,
  startJwksServer,
  type JwksServer,
  type TestSigningKey,
} from '../support/jwks-server.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'https://orders.test';
const now = () => Math.floor(Date.now() / 1000);

describe('V3JwtVerifier against a real JWKS endpoint', () => {
  let jwks: JwksServer;
  let first: TestSigningKey;
  let second: TestSigningKey;
  let unpublished: TestSigningKey;

  beforeAll(async () => {
    [first, second, unpublished] = await Promise.all([
      createSigningKey('key-1'),
      createSigningKey('key-2'),
      createSigningKey('key-x'),
    ]);
    jwks = await startJwksServer([first]);
  });
  afterAll(() => jwks.close());

  const verifier = (cooldownMs = 0) =>
    new V3JwtVerifier({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, jwksCooldownMs: cooldownMs });
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    client_id: 'orders-client',
    scope: 'orders:read orders:write',
    exp: now() + 300,
    iat: now(),
    ...extra,
  });

  async function refusal(token: string, subject = verifier()): Promise<V3InvalidTokenException> {
    const error = await subject.verify(token).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(V3InvalidTokenException);
    const refused = error as V3InvalidTokenException;
    expect(refused.getStatus()).toBe(401);
    expect(refused.oauthError).toBe('invalid_token');
    expect(refused.headers['WWW-Authenticate']).toContain('error="invalid_token"');
    expect(JSON.stringify(refused.getResponse())).not.toContain(token);
    return refused;
  }

  it('answers the principal of a valid token with its scopes, client_id first', async () => {
    const exp = now() + 300;
    const token = await signJwt(first, claims({ exp }));
    const principal = await verifier().verify(token);
    expect(principal).toMatchObject({
      clientId: 'orders-client',
      accessToken: token,
      tokenType: 'Bearer',
      scopes: ['orders:read', 'orders:write'],
      scope: 'orders:read orders:write',
      audience: [AUDIENCE],
    });
    expect(principal.expiresAt).toBe(exp * 1000);
  });

  it("answers the audiences of an aud array, which a route's resource is checked against", async () => {
    const principal = await verifier().verify(
      await signJwt(first, claims({ aud: [AUDIENCE, 'https://orders.example', 7, ''] })),
    );
    expect(principal.audience).toEqual([AUDIENCE, 'https://orders.example']);
  });

  it('reads scp (array) and falls back to azp, then sub, for the principal', async () => {
    const subject = verifier();
    const byAzp = await subject.verify(
      await signJwt(first, claims({ client_id: undefined, scope: undefined, scp: ['a', 'b'], azp: 'spa' })),
    );
    expect(byAzp).toMatchObject({ clientId: 'spa', scopes: ['a', 'b'] });
    const bySub = await subject.verify(
      await signJwt(first, claims({ client_id: undefined, scope: undefined, scp: 'c d' })),
    );
    expect(bySub).toMatchObject({ clientId: 'user-1', scopes: ['c', 'd'] });
  });

  it('refuses an expired token, beyond the leeway', async () => {
    const refused = await refusal(await signJwt(first, claims({ exp: now() - 120 })));
    expect(refused.message).toContain('expired');
  });

  it('refuses a token not yet valid (nbf beyond the leeway)', async () => {
    await refusal(await signJwt(first, claims({ nbf: now() + 600 })));
  });

  it('refuses a token of another issuer', async () => {
    const refused = await refusal(await signJwt(first, claims({ iss: 'https://evil.test' })));
    expect(refused.message).toContain('"iss"');
  });

  it('refuses a token for another audience', async () => {
    const refused = await refusal(await signJwt(first, claims({ aud: 'https://billing.test' })));
    expect(refused.message).toContain('"aud"');
  });

  it('refuses a token without exp', async () => {
    await refusal(await signJwt(first, claims({ exp: undefined })));
  });

  it('refuses alg none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(JSON.stringify(claims()));
    await refusal(`${header}.${payload}.`);
  });

  it('refuses HS256 signed with the published public key as the secret', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(first.publicJwk));
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', kid: first.kid })
      .sign(secret);
    const refused = await refusal(token);
    expect(refused.message).toContain('algorithm');
  });

  it('refuses a token signed by a key the issuer does not publish, under a published kid too', async () => {
    await refusal(await signJwt(unpublished, claims()));
    const forged = await signJwt({ ...unpublished, kid: first.kid }, claims());
    await refusal(forged);
  });

  it('refuses garbage and a tampered payload, without echoing them', async () => {
    await refusal('not-a-jwt');
    const [header, , signature] = (await signJwt(first, claims())).split('.');
    const tampered = `${header}.${base64url.encode(JSON.stringify(claims({ scope: 'admin' })))}.${signature}`;
    await refusal(tampered);
  });

  it('picks up a rotated key: an unknown kid refetches the JWKS', async () => {
    const subject = verifier();
    await subject.verify(await signJwt(first, claims()));
    jwks.publish([first, second]);
    const principal = await subject.verify(await signJwt(second, claims({ client_id: 'rotated' })));
    expect(principal.clientId).toBe('rotated');
    jwks.publish([first]);
  });

  it('refetches for an unknown kid at most once per cooldown', async () => {
    const subject = verifier(60_000);
    await subject.verify(await signJwt(first, claims()));
    const before = jwks.fetches();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await refusal(await signJwt(unpublished, claims({ jti: String(attempt) })), subject);
    }
    expect(jwks.fetches() - before).toBeLessThanOrEqual(1);
  });

  it('remembers a verified token: no second JWKS fetch and the same principal', async () => {
    const subject = verifier();
    const token = await signJwt(first, claims());
    const principal = await subject.verify(token);
    jwks.publish([]);
    try {
      expect(await subject.verify(token)).toBe(principal);
    } finally {
      jwks.publish([first]);
    }
  });
});

describe('V3JwtVerifier with a failing JWKS endpoint', () => {
  let failing: Server;
  let url: string;
  let key: TestSigningKey;

  beforeAll(async () => {
    key = await createSigningKey('k');
    failing = createServer((_request, response) => {
      response.statusCode = 500;
      response.end('down');
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/certs`;
  });
  afterAll(() => new Promise<void>((resolve) => failing.close(() => resolve())));

  it('answers 503 (retryable), not 401 and not a 500, when the JWKS cannot be fetched', async () => {
    const subject = new V3JwtVerifier({ jwksUrl: url, issuer: ISSUER });
    const token = await signJwt(key, { iss: ISSUER, sub: 's', exp: now() + 60 });
    const error = await subject.verify(token).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(V3IssuerUnavailableException);
    expect((error as V3IssuerUnavailableException).getStatus()).toBe(503);
  });
});
