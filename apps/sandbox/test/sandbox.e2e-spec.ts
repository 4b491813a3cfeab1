import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { decodeJwt } from 'jose';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';

const CLIENT = { id: 'svc client', secret: 's3cret:with&symbols' };

function basic(id: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

async function post(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(fields) });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('sandbox over HTTP (startTokenServer)', () => {
  let server: TokenServer;

  beforeAll(async () => {
    server = await startTokenServer({
      clients: { [CLIENT.id]: CLIENT.secret, 'demo-client': 'demo-secret' },
      users: { alice: 'wonder land' },
      realm: 'acme',
    });
  });
  afterAll(() => server.close());
  beforeEach(() => server.issuer.reset());

  it('exposes its URLs on 127.0.0.1 and a health endpoint', async () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.tokenUrl).toBe(`${server.baseUrl}/token`);
    expect(server.keycloakTokenUrl).toBe(`${server.baseUrl}/realms/acme/protocol/openid-connect/token`);
    expect(server.apiUrl).toBe(`${server.baseUrl}/v3`);
    const health = await fetch(`${server.baseUrl}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  describe('token endpoint', () => {
    it('grants client_credentials with client_secret_post on /token, with no-store headers', async () => {
      const reply = await post(server.tokenUrl, {
        grant_type: 'client_credentials',
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
      });
      expect(reply.status).toBe(200);
      expect(reply.headers.get('cache-control')).toBe('no-store');
      expect(reply.headers.get('pragma')).toBe('no-cache');
      expect(reply.body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'profile email' });
      expect(reply.body.refresh_token).toBeUndefined();
      expect(decodeJwt(reply.body.access_token as string)).toMatchObject({
        azp: CLIENT.id,
        iss: server.baseUrl,
      });
      expect(server.issuer.grants).toEqual([
        expect.objectContaining({ clientId: CLIENT.id, clientAuth: 'post' }),
      ]);
    });

    it('grants client_credentials with client_secret_basic on the realm path, with the realm as issuer', async () => {
      const reply = await post(
        server.keycloakTokenUrl,
        { grant_type: 'client_credentials' },
        { authorization: basic(CLIENT.id, CLIENT.secret) },
      );
      expect(reply.status).toBe(200);
      expect(decodeJwt(reply.body.access_token as string).iss).toBe(`${server.baseUrl}/realms/acme`);
      expect(server.issuer.grants[0]).toMatchObject({
        clientId: CLIENT.id,
        clientAuth: 'basic',
        outcome: 'issued',
      });
    });

    it('accepts a JSON body', async () => {
      const response = await fetch(server.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'client_credentials',
          client_id: 'demo-client',
          client_secret: 'demo-secret',
        }),
      });
      expect(response.status).toBe(200);
      expect(server.issuer.successfulGrants('demo-client')).toBe(1);
    });

    it('answers 404 for a realm it does not serve, without counting a grant', async () => {
      const reply = await post(`${server.baseUrl}/realms/other/protocol/openid-connect/token`, {
        grant_type: 'client_credentials',
        client_id: 'demo-client',
        client_secret: 'demo-secret',
      });
      expect(reply.status).toBe(404);
      expect(reply.body.error).toBe('Realm does not exist');
      expect(server.issuer.grantCount()).toBe(0);
    });

    it('runs the password grant, then refreshes it', async () => {
      const granted = await post(server.keycloakTokenUrl, {
        grant_type: 'password',
        client_id: 'demo-client',
        client_secret: 'demo-secret',
        username: 'alice',
        password: 'wonder land',
      });
      expect(granted.status).toBe(200);
      expect(granted.body).toMatchObject({ refresh_expires_in: 1800, 'not-before-policy': 0 });
      expect(decodeJwt(granted.body.access_token as string).preferred_username).toBe('alice');

      const refreshed = await post(
        server.keycloakTokenUrl,
        { grant_type: 'refresh_token', refresh_token: granted.body.refresh_token as string },
        { authorization: basic('demo-client', 'demo-secret') },
      );
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.access_token as string).preferred_username).toBe('alice');
      expect(typeof refreshed.body.refresh_token).toBe('string');
      expect(server.issuer.successfulGrants('demo-client')).toBe(2);

      const stolen = await post(server.tokenUrl, {
        grant_type: 'refresh_token',
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        refresh_token: granted.body.refresh_token as string,
      });
      expect(stolen.status).toBe(400);
      expect(stolen.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid refresh token' });
    });

    it('answers Keycloak error shapes and status codes, never echoing a secret', async () => {
      const cases: Array<[Record<string, string>, number, Record<string, string>]> = [
        [
          { grant_type: 'client_credentials', client_id: 'demo-client', client_secret: 'WRONG-secret-value' },
          401,
          { error: 'unauthorized_client', error_description: 'Invalid client or Invalid client credentials' },
        ],
        [
          { grant_type: 'client_credentials', client_id: 'ghost', client_secret: 'WRONG-secret-value' },
          401,
          { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' },
        ],
        [
          {
            grant_type: 'password',
            client_id: 'demo-client',
            client_secret: 'demo-secret',
            username: 'alice',
            password: 'WRONG-secret-value',
          },
          401,
          { error: 'invalid_grant', error_description: 'Invalid user credentials' },
        ],
        [
          {
            grant_type: 'refresh_token',
            client_id: 'demo-client',
            client_secret: 'demo-secret',
            refresh_token: 'x.y.z',
          },
          400,
          { error: 'invalid_grant', error_description: 'Invalid refresh token' },
        ],
        [
          { client_id: 'demo-client', client_secret: 'demo-secret' },
          400,
          { error: 'invalid_request', error_description: 'Missing form parameter: grant_type' },
        ],
        [
          { grant_type: 'implicit', client_id: 'demo-client', client_secret: 'demo-secret' },
          400,
          { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' },
        ],
      ];
      for (const [fields, status, body] of cases) {
        const response = await fetch(server.tokenUrl, { method: 'POST', body: new URLSearchParams(fields) });
        const text = await response.text();
        expect({ fields, status: response.status, body: JSON.parse(text) }).toEqual({ fields, status, body });
        expect(text).not.toContain('WRONG-secret-value');
      }
      expect(server.issuer.grantCount()).toBe(cases.length);
      expect(server.issuer.successfulGrants()).toBe(0);
    });

    it('answers 4xx, never 5xx, to bodies it cannot use', async () => {
      const bodies: Array<[string | undefined, string]> = [
        ['text/plain', 'grant_type=client_credentials'],
        ['application/json', '{not json'],
        ['application/json', '[1,2,3]'],
        ['application/octet-stream', '\u0000\u0001'],
        [undefined, ''],
      ];
      for (const [contentType, body] of bodies) {
        const response = await fetch(server.tokenUrl, {
          method: 'POST',
          headers: contentType ? { 'content-type': contentType } : {},
          body,
        });
        expect({ contentType, status: response.status }).toEqual({ contentType, status: 400 });
      }
      const malformedBasic = await post(
        server.tokenUrl,
        { grant_type: 'client_credentials' },
        { authorization: 'Basic !!!' },
      );
      expect(malformedBasic.status).toBe(400);
    });
  });

  describe('sample API /v3', () => {
    async function accessToken(): Promise<string> {
      const reply = await post(server.tokenUrl, {
        grant_type: 'password',
        client_id: 'demo-client',
        client_secret: 'demo-secret',
        username: 'alice',
        password: 'wonder land',
      });
      return reply.body.access_token as string;
    }

    it('accepts its own token and echoes method, path, query, selected headers and body', async () => {
      const token = await accessToken();
      const response = await fetch(`${server.apiUrl}/orders/42?expand=items&page=2`, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-forwarded-for': '203.0.113.9',
          cookie: 'session=abc',
        },
        body: JSON.stringify({ quantity: 3 }),
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({
        client_id: 'demo-client',
        username: 'alice',
        method: 'PUT',
        path: '/v3/orders/42',
        query: { expand: 'items', page: '2' },
        headers: expect.objectContaining({
          'content-type': 'application/json',
          'x-forwarded-for': '203.0.113.9',
        }),
        body: { quantity: 3 },
      });
      expect(text).not.toContain(token);
      expect(text).not.toContain('session=abc');
    });

    it('accepts any content type, echoing the body as text', async () => {
      const response = await fetch(`${server.apiUrl}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await accessToken()}`, 'content-type': 'application/xml' },
        body: '<order id="1"/>',
      });
      expect(await response.json()).toMatchObject({ path: '/v3', body: '<order id="1"/>' });
    });

    it('rejects a missing, forged or expired token with 401 and WWW-Authenticate', async () => {
      const token = await accessToken();
      const [header, payload] = token.split('.');
      const forged = `${header}.${payload}.${'A'.repeat(43)}`;
      server.issuer.lifetimes = { tokenLifetimeSeconds: 0 };
      const expired = await accessToken();

      for (const authorization of [undefined, `Bearer ${forged}`, `Bearer ${expired}`, `Basic ${token}`]) {
        const response = await fetch(`${server.apiUrl}/anything`, {
          headers: authorization ? { authorization } : {},
        });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
        expect(await response.json()).toMatchObject({ error: 'invalid_token' });
      }
    });
  });

  describe('fault knobs', () => {
    const grant = () =>
      fetch(server.tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: 'demo-client',
          client_secret: 'demo-secret',
        }),
      });

    it('answers 503 when unavailable and 429 with Retry-After when rate limited', async () => {
      server.issuer.setFaults({ mode: 'unavailable' });
      expect((await grant()).status).toBe(503);
      server.issuer.setFaults({ mode: 'rate_limited', retryAfterSeconds: 9 });
      const limited = await grant();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('9');
      expect(server.issuer.grantCount('demo-client')).toBe(2);
      expect(server.issuer.successfulGrants('demo-client')).toBe(0);
    });

    it('answers a body without access_token when malformed and text/html when html', async () => {
      server.issuer.setFaults({ mode: 'malformed' });
      const malformed = await grant();
      expect(malformed.status).toBe(200);
      expect(await malformed.json()).not.toHaveProperty('access_token');

      server.issuer.setFaults({ mode: 'html' });
      const html = await grant();
      expect(html.status).toBe(200);
      expect(html.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
    });

    it('delays when slow, then answers a token', async () => {
      server.issuer.setFaults({ mode: 'slow', delayMs: 200 });
      const started = performance.now();
      const response = await grant();
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      expect(response.status).toBe(200);
      expect(server.issuer.successfulGrants()).toBe(1);
    });

    it('drops the connection without an answer', async () => {
      server.issuer.setFaults({ mode: 'drop' });
      const { port } = new URL(server.baseUrl);
      const outcome = await new Promise<string>((resolve) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, path: '/token', method: 'POST', agent: false },
          (res) => resolve(`answered ${res.statusCode}`),
        );
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        req.setHeader('content-type', 'application/x-www-form-urlencoded');
        req.end('grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret');
      });
      expect(outcome).toBe('ECONNRESET');
      expect(server.issuer.grantCount('demo-client')).toBe(1);
      server.issuer.reset();
      expect((await grant()).status).toBe(200);
    });
  });
});
