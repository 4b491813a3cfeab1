import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  FAULT_HMAC_KEY,
  request,
  startGateway,
  type GatewayInstance,
  type TimedAnswer,
} from '../../../test/faults/fault-harness.js';
import { startOidcProvider, type OidcProviderServer } from '../../../test/support/oidc-provider.js';
import { startRedisServer, type PrivateRedis } from '../../../test/support/redis-server.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

const run = promisify(execFile);
const OWNER = { client_id: 'demo-client', client_secret: 'demo-secret' };
const OTHER = { client_id: 'other-client', client_secret: 'other-secret' };
const basic = (client: { client_id: string; client_secret: string }) =>
  `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;

/** The README's `POST /revoke` curl line, pointed at `url`. */
function readmeRevokeLine(url: string): string {
  const line = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    .split('\n')
    .map((text) => text.trim())
    .find((text) => text.startsWith('curl') && text.includes('/revoke'));
  if (line === undefined) throw new Error('README.md has no curl line for POST /revoke');
  return line.replace('http://localhost:3000', url);
}

/**
 * Issue 14, revocation: `POST /revoke` (RFC 7009) on two gateway instances sharing one private redis-server, with
 * oidc-provider as the issuer (its revocation and introspection endpoints on) and an echo downstream.
 */
describe('gateway: POST /revoke across instances', () => {
  let op: OidcProviderServer;
  let redis: PrivateRedis;
  let echo: EchoServer;
  let a: GatewayInstance;
  let b: GatewayInstance;

  const revoke = (
    gateway: GatewayInstance,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ) =>
    request(`${gateway.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  const tokenOf = async (gateway: GatewayInstance, client = OWNER): Promise<string> => {
    const answer = await gateway.token({ grant_type: 'client_credentials', ...client });
    expect(answer.status).toBe(200);
    return answer.body?.access_token as string;
  };
  /** Whether the issuer still deems `token` active (RFC 7662 introspection by its owner). */
  const activeAtIssuer = async (token: string): Promise<boolean> => {
    const answer = await request(op.introspectionUrl as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, ...OWNER }).toString(),
    });
    expect(answer.status).toBe(200);
    return answer.body?.active === true;
  };
  const expectUnauthorized = (answer: TimedAnswer, error: string) => {
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error });
    expect(answer.headers.get('www-authenticate')).toBeTruthy();
  };

  beforeAll(async () => {
    [op, redis, echo] = await Promise.all([
      startOidcProvider({ clients: [OWNER, OTHER], revocation: true }),
      startRedisServer(),
      startEchoServer(),
    ]);
    const env = {
      V3_TOKEN_URL: op.tokenUrl,
      V3_REVOCATION_URL: op.revocationUrl,
      GATEWAY_ROUTES: `/echo=${echo.url}`,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
    };
    [a, b] = [await startGateway(env), await startGateway(env)];
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([op.close(), redis.stop(), echo.close()]);
  });

  it("the README's curl line revokes on B a token A handed out: refused everywhere, passed on, next Basic is new", async () => {
    const token = await tokenOf(a);
    await expect(b.tokens.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ accessToken: token });
    expect(await activeAtIssuer(token)).toBe(true);

    const { stdout } = await run('sh', ['-c', readmeRevokeLine(b.url)], {
      env: { ...process.env, TOKEN: token },
    });
    expect(stdout.trim()).toBe('200');

    await expect(b.tokens.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
    await expect(a.tokens.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
    expectUnauthorized(await a.get('/echo/me', `Bearer ${token}`), 'Unauthorized');
    expect(await activeAtIssuer(token)).toBe(false);

    const seen = echo.seen.length;
    expect((await a.get('/echo/me', basic(OWNER))).status).toBe(200);
    expect(echo.seen[seen].headers.authorization).toMatch(/^Bearer /);
    expect(echo.seen[seen].headers.authorization).not.toBe(`Bearer ${token}`);
    const next = await tokenOf(b);
    expect(next).not.toBe(token);
    expect(await tokenOf(a)).toBe(next);
  });

  it('takes client credentials in the body as well, and answers 200 with an empty body', async () => {
    const token = await tokenOf(b);
    const answer = await revoke(a, { token, token_type_hint: 'access_token', ...OWNER });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('');
    await expect(b.tokens.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
    expect(await tokenOf(b)).not.toBe(token);
  });

  it("another client's token: 200, and nothing happens to it", async () => {
    const token = await tokenOf(a);
    const answer = await revoke(b, { token }, { authorization: basic(OTHER) });
    expect(answer.status).toBe(200);
    await expect(a.tokens.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ accessToken: token });
    await expect(b.tokens.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ accessToken: token });
    expect(await activeAtIssuer(token)).toBe(true);
    expect(await tokenOf(a)).toBe(token);
  });

  it('an unknown token is 200 for an authenticated client', async () => {
    const answer = await revoke(a, { token: 'never-issued-by-anyone' }, { authorization: basic(OWNER) });
    expect(answer.status).toBe(200);
  });

  it('without client authentication, or with a wrong secret, 401 JSON; without a token, 400; the token lives', async () => {
    const token = await tokenOf(a);
    expectUnauthorized(await revoke(a, { token }), 'invalid_client');
    expectUnauthorized(await revoke(a, { token, client_id: OWNER.client_id }), 'invalid_client');
    const wrong = await revoke(a, { token }, { authorization: basic({ ...OWNER, client_secret: 'not-it' }) });
    expectUnauthorized(wrong, 'invalid_client');
    expect(wrong.text).not.toContain('not-it');
    const missing = await revoke(a, {}, { authorization: basic(OWNER) });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: 'invalid_request' });
    expect(missing.body?.error_description).toContain('token');
    await expect(b.tokens.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ accessToken: token });
  });

  it('behind a trusted proxy sending only Forwarded, counts wrong secrets per caller: a guesser does not lock the owner out', async () => {
    const proxied = await startGateway({
      V3_TOKEN_URL: op.tokenUrl,
      V3_REVOCATION_URL: op.revocationUrl,
      GATEWAY_ROUTES: `/echo=${echo.url}`,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
      GATEWAY_TRUSTED_PROXIES: '127.0.0.1',
      TOKEN_INVALID_CREDENTIALS_TTL_MS: '0',
      TOKEN_MAX_FAILED_ATTEMPTS: '3',
    });
    try {
      const token = await tokenOf(a);
      const guesser = { forwarded: 'for=203.0.113.7;proto=http' };
      const statuses: number[] = [];
      for (let guess = 0; guess < 5; guess++) {
        const wrong = { ...OWNER, client_secret: `guess-${guess}` };
        statuses.push((await revoke(proxied, { token }, { ...guesser, authorization: basic(wrong) })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const owner = await revoke(
        proxied,
        { token },
        { forwarded: 'for=203.0.113.9;proto=http', authorization: basic(OWNER) },
      );
      expect(owner.status).toBe(200);
      await expect(b.tokens.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
    } finally {
      await proxied.close();
    }
  });
});
