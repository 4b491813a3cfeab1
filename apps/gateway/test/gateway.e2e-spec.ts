import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { createGatewayApp } from '../src/app.factory.js';
import { parseGatewayConfig } from '../src/config/gateway.config.js';
import { freePort } from '../../../test/support/free-port.js';
import { startRedisServer, type PrivateRedis } from '../../../test/support/redis-server.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { bytesOf, startEchoServer, type EchoServer } from './support/echo-server.js';

const CLIENT = 'svc-client';
const SECRET = 's3cret:with%chars';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const GOOD = basic(CLIENT, SECRET);
/** Clients of the downstream-401 tests: each refusal opens its credentials' re-grant window, so each has its own. */
const REFUSED_GET = { id: 'refused-get', secret: 'refused-get-secret' };
const REFUSED_POST = { id: 'refused-post', secret: 'refused-post-secret' };

/** node:http, for what fetch refuses to send (a Connection header, a chunked upload). */
function rawRequest(
  url: string,
  options: { method: string; headers: Record<string, string>; body?: Buffer | string },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method, headers: options.headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    if (Buffer.isBuffer(options.body)) {
      for (let offset = 0; offset < options.body.length; offset += 1 << 20) {
        request.write(options.body.subarray(offset, offset + (1 << 20)));
      }
    } else if (options.body !== undefined) {
      request.write(options.body);
    }
    request.end();
  });
}

interface Answer {
  status: number;
  headers: Headers;
  json: () => Promise<Record<string, unknown>>;
  text: () => Promise<string>;
}

describe('gateway (e2e)', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let echo: EchoServer;
  let app: NestFastifyApplication;
  let base: string;

  const call = async (path: string, init: RequestInit = {}): Promise<Answer> =>
    (await fetch(`${base}${path}`, init)) as unknown as Answer;
  const tokenFor = async (id = CLIENT, secret = SECRET) => {
    const response = await call('/token', {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { access_token: string; expires_in: number; token_type: string };
  };

  beforeAll(async () => {
    [issuer, redis, echo] = await Promise.all([
      startTokenServer({
        clients: {
          [CLIENT]: SECRET,
          other: 'other-secret',
          [REFUSED_GET.id]: REFUSED_GET.secret,
          [REFUSED_POST.id]: REFUSED_POST.secret,
        },
        tokenLifetimeSeconds: 300,
      }),
      startRedisServer(),
      startEchoServer(),
    ]);
    const deadPort = await freePort();
    app = await createGatewayApp(
      parseGatewayConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        V3_TOKEN_URL: issuer.tokenUrl,
        REDIS_URL: redis.url,
        TOKEN_CACHE_HMAC_KEY: randomBytes(32).toString('base64'),
        GATEWAY_UPSTREAM_TIMEOUT_MS: '1000',
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl},/echo=${echo.url},/based=${echo.url}/base/,/down=http://127.0.0.1:${deadPort}`,
      }),
    );
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    base = base.replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await Promise.all([issuer?.close(), redis?.stop(), echo?.close()]);
  });

  beforeEach(() => {
    echo.seen.length = 0;
  });

  describe('proxy with token relay', () => {
    it('relays Basic credentials as a Bearer token to the sandbox API; one grant serves many requests', async () => {
      const before = issuer.issuer.grantCount(CLIENT);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(`/v3/items/${i}?page=${i}`, { headers: { authorization: GOOD } }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      const bodies = await Promise.all(answers.map((a) => a.json()));
      expect(bodies[7]).toMatchObject({
        client_id: CLIENT,
        method: 'GET',
        path: '/v3/items/7',
        query: { page: '7' },
      });
      expect(issuer.issuer.grantCount(CLIENT) - before).toBe(1);
    });

    it('replaces the caller credentials with the bearer token; the Basic header never reaches the downstream', async () => {
      const { access_token } = await tokenFor();
      const answer = await call('/echo/things?x=1', { headers: { authorization: GOOD } });
      expect(answer.status).toBe(200);
      expect(echo.seen).toHaveLength(1);
      const seen = echo.seen[0];
      expect(seen.headers.authorization).toBe(`Bearer ${access_token}`);
      expect(JSON.stringify(seen.headers)).not.toContain(GOOD.slice(6));
      expect(JSON.stringify(seen.headers)).not.toContain(SECRET);
    });

    it('passes method, path, query and body through and sets the X-Forwarded headers', async () => {
      const payload = JSON.stringify({ name: 'widget', tags: ['a', 'b'] });
      const answer = await rawRequest(`${base}/echo/items/42?x=1&y=a%20b&y=c`, {
        method: 'PATCH',
        headers: {
          authorization: GOOD,
          'content-type': 'application/json',
          'x-request-id': 'req-123',
          'x-custom': 'kept',
          connection: 'keep-alive, x-hop',
          'x-hop': 'dropped',
        },
        body: payload,
      });
      expect(answer.status).toBe(200);
      const seen = echo.seen[0];
      expect(seen.method).toBe('PATCH');
      expect(seen.url).toBe('/echo/items/42?x=1&y=a%20b&y=c');
      expect(seen.body).toBe(payload);
      expect(seen.headers['content-type']).toBe('application/json');
      expect(seen.headers['x-custom']).toBe('kept');
      expect(seen.headers['x-hop']).toBeUndefined();
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen.headers['x-forwarded-proto']).toBe('http');
      expect(seen.headers['x-forwarded-host']).toBe(new URL(base).host);
      expect(seen.headers['x-request-id']).toBe('req-123');
      expect(seen.headers.host).toBe(new URL(echo.url).host);
    });

    it('keeps the response status, headers and body, and drops hop-by-hop response headers', async () => {
      const answer = await call('/echo/status/201', { method: 'POST', headers: { authorization: GOOD } });
      expect(answer.status).toBe(201);
      expect(answer.headers.get('x-downstream')).toBe('echo');
      expect(answer.headers.get('keep-alive')).not.toBe('timeout=17');
      expect(answer.headers.get('proxy-authenticate')).toBeNull();
      expect(await answer.json()).toEqual(
        expect.objectContaining({ method: 'POST', url: '/echo/status/201' }),
      );
    });

    it('prepends the path of a base URL to the full original path', async () => {
      const answer = await call('/based/a/b?q=1', { headers: { authorization: GOOD } });
      expect(answer.status).toBe(200);
      expect(echo.seen[0].url).toBe('/base/based/a/b?q=1');
    });

    it('streams a large request body to the downstream unchanged', async () => {
      const body = randomBytes(8 * 1024 * 1024);
      const answer = await rawRequest(`${base}/echo/upload`, {
        method: 'PUT',
        headers: {
          authorization: GOOD,
          'content-type': 'application/octet-stream',
          'transfer-encoding': 'chunked',
        },
        body,
      });
      expect(answer.status).toBe(200);
      expect(echo.seen[0].bodyBytes).toBe(body.length);
      expect(echo.seen[0].bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
    });

    it('streams a large answer back unchanged', async () => {
      const answer = await call('/echo/bytes?n=8388608&seed=big', { headers: { authorization: GOOD } });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/octet-stream');
      const body = Buffer.from(await (answer as unknown as Response).arrayBuffer());
      expect(body.length).toBe(8 * 1024 * 1024);
      expect(body.equals(bytesOf(8 * 1024 * 1024, 'big'))).toBe(true);
    });

    it('closes the caller connection when the downstream breaks off an answer, and keeps serving', async () => {
      const answer = await rawRequest(`${base}/echo/break`, {
        method: 'GET',
        headers: { authorization: GOOD },
      })
        .then(() => 'completed')
        .catch((error: NodeJS.ErrnoException) => error.code ?? error.message);
      expect(answer).toMatch(/ECONNRESET|aborted/);
      const next = await call('/echo/after-break', { headers: { authorization: GOOD } });
      expect(next.status).toBe(200);
    });

    it("keeps the caller's keep-alive connection and sends the request id back on proxied answers", async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const get = (id: string) =>
        new Promise<{ reused: boolean; status: number; requestId: unknown }>((resolve, reject) => {
          const request = httpRequest(
            `${base}/echo/keep`,
            { agent, headers: { authorization: GOOD, 'x-request-id': id } },
            (response) => {
              response.resume();
              response.on('end', () =>
                resolve({
                  reused: request.reusedSocket,
                  status: response.statusCode ?? 0,
                  requestId: response.headers['x-request-id'],
                }),
              );
            },
          );
          request.on('error', reject);
          request.end();
        });
      try {
        const answers = [await get('ka-1'), await get('ka-2'), await get('ka-3')];
        expect(answers).toEqual([
          { reused: false, status: 200, requestId: 'ka-1' },
          { reused: true, status: 200, requestId: 'ka-2' },
          { reused: true, status: 200, requestId: 'ka-3' },
        ]);
      } finally {
        agent.destroy();
      }
    });

    it('accepts an upload sent with Expect: 100-continue', async () => {
      const answer = await rawRequest(`${base}/echo/continue`, {
        method: 'POST',
        headers: { authorization: GOOD, 'content-type': 'text/plain', expect: '100-continue' },
        body: 'after the interim answer',
      });
      expect(answer.status).toBe(200);
      expect(echo.seen[0].body).toBe('after the interim answer');
      expect(echo.seen[0].headers.expect).toBeUndefined();
    });

    it('refuses a wrong secret with 401 JSON and WWW-Authenticate; the downstream sees nothing', async () => {
      const answer = await call('/echo/x', { headers: { authorization: basic(CLIENT, 'wrong') } });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/Basic realm=/);
      expect(answer.headers.get('content-type')).toMatch(/application\/json/);
      expect(await answer.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect(echo.seen).toHaveLength(0);
    });

    it('answers malformed or missing Authorization headers with a 4xx JSON body', async () => {
      const cases: Array<[Record<string, string>, number]> = [
        [{}, 401],
        [{ authorization: 'Basic !!!not-base64' }, 401],
        [{ authorization: 'Basic ' + Buffer.from('no-colon').toString('base64') }, 401],
        [{ authorization: 'Digest abc' }, 401],
        [{ authorization: 'Bearer ' }, 401],
        [{ authorization: 'Basic ' + 'A'.repeat(5000) }, 400],
      ];
      for (const [headers, status] of cases) {
        const answer = await call('/echo/x', { headers });
        expect({ headers, status: answer.status }).toEqual({ headers, status });
        const body = await answer.json();
        expect(body.statusCode).toBe(status);
        expect(typeof body.message).toBe('string');
      }
      expect(echo.seen).toHaveLength(0);
    });

    it('answers 502 JSON when the downstream is unreachable', async () => {
      const answer = await call('/down/x', { headers: { authorization: GOOD } });
      expect(answer.status).toBe(502);
      expect(await answer.json()).toMatchObject({ statusCode: 502, error: 'Bad Gateway' });
    });

    it('answers 504 JSON when the downstream does not answer in time', async () => {
      const answer = await call('/echo/slow?ms=2500', { headers: { authorization: GOOD } });
      expect(answer.status).toBe(504);
      expect(await answer.json()).toMatchObject({ statusCode: 504, error: 'Gateway Timeout' });
    });

    it('on a downstream 401 evicts the token and retries once with a fresh one', async () => {
      const { id, secret } = REFUSED_GET;
      const { access_token: stale } = await tokenFor(id, secret);
      const grants = issuer.issuer.grantCount(id);
      echo.refuseOnce.add(stale);
      const answer = await call('/echo/refuse-once', { headers: { authorization: basic(id, secret) } });
      expect(answer.status).toBe(200);
      expect(echo.seen).toHaveLength(2);
      expect(echo.seen[0].headers.authorization).toBe(`Bearer ${stale}`);
      expect(echo.seen[1].headers.authorization).not.toBe(`Bearer ${stale}`);
      expect(issuer.issuer.grantCount(id)).toBe(grants + 1);
      const { access_token: fresh } = await tokenFor(id, secret);
      expect(echo.seen[1].headers.authorization).toBe(`Bearer ${fresh}`);
    });

    it('on a downstream 401 to a request with a body evicts the token but does not replay the body', async () => {
      const { id, secret } = REFUSED_POST;
      const { access_token: stale } = await tokenFor(id, secret);
      echo.refuseOnce.add(stale);
      const answer = await call('/echo/refuse-once', {
        method: 'POST',
        headers: { authorization: basic(id, secret), 'content-type': 'text/plain' },
        body: 'once',
      });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(echo.seen).toHaveLength(1);
      // The window's one re-grant: the next token is a fresh one.
      const { access_token: next } = await tokenFor(id, secret);
      expect(next).not.toBe(stale);
    });

    it('answers unknown paths with 404 JSON', async () => {
      const answer = await call('/nowhere', { headers: { authorization: GOOD } });
      expect(answer.status).toBe(404);
      expect(await answer.json()).toMatchObject({ statusCode: 404 });
      expect((await call('/echox')).status).toBe(404);
    });
  });

  describe('POST /token', () => {
    it('issues a token for a form body, with Cache-Control: no-store, and the bearer opens the proxy', async () => {
      const answer = await call('/token', {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: 'other',
          client_secret: 'other-secret',
        }),
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      const token = (await answer.json()) as { access_token: string; token_type: string; expires_in: number };
      expect(token.token_type).toBe('Bearer');
      expect(token.expires_in).toBeGreaterThan(250);
      expect(token.expires_in).toBeLessThanOrEqual(300);

      const proxied = await call('/v3/orders', {
        headers: { authorization: `Bearer ${token.access_token}` },
      });
      expect(proxied.status).toBe(200);
      expect(await proxied.json()).toMatchObject({ client_id: 'other', path: '/v3/orders' });
      await call('/echo/orders', { headers: { authorization: `Bearer ${token.access_token}` } });
      expect(echo.seen[0].headers.authorization).toBe(`Bearer ${token.access_token}`);
    });

    it('accepts JSON and a Basic header, and answers the same cached token', async () => {
      const form = await tokenFor();
      const json = await call('/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials', client_id: CLIENT, client_secret: SECRET }),
      });
      const viaBasic = await call('/token', {
        method: 'POST',
        headers: {
          authorization: basic(encodeURIComponent(CLIENT), encodeURIComponent(SECRET)),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      expect(json.status).toBe(200);
      expect(viaBasic.status).toBe(200);
      expect(((await json.json()) as { access_token: string }).access_token).toBe(form.access_token);
      expect(((await viaBasic.json()) as { access_token: string }).access_token).toBe(form.access_token);
    });

    it('answers expires_in as the remaining lifetime of the cached token', async () => {
      const first = await tokenFor('other', 'other-secret');
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const second = await tokenFor('other', 'other-secret');
      expect(second.access_token).toBe(first.access_token);
      expect(second.expires_in).toBeLessThanOrEqual(first.expires_in - 2);
      expect(second.expires_in).toBeGreaterThanOrEqual(first.expires_in - 3);
    });

    it('answers OAuth 2.0 errors: invalid_client with WWW-Authenticate, invalid_request for conflicts and bad bodies', async () => {
      const wrong = await call('/token', {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: 'nope',
        }),
      });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toMatch(/Basic/);
      expect(await wrong.json()).toMatchObject({
        error: expect.stringMatching(/^(invalid_client|unauthorized_client)$/),
        error_description: expect.any(String),
      });

      const conflict = await call('/token', {
        method: 'POST',
        headers: { authorization: basic('other', 'other-secret') },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: SECRET,
        }),
      });
      expect(conflict.status).toBe(400);
      expect(await conflict.json()).toMatchObject({ error: 'invalid_request' });

      const badJson = await call('/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"grant_type":',
      });
      expect(badJson.status).toBe(400);
      expect(await badJson.json()).toMatchObject({ error: 'invalid_request' });

      const noGrant = await call('/token', {
        method: 'POST',
        body: new URLSearchParams({ client_id: CLIENT }),
      });
      expect(noGrant.status).toBe(400);
      expect(await noGrant.json()).toMatchObject({ error: 'invalid_request' });

      const unsupported = await call('/token', {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'implicit', client_id: CLIENT, client_secret: SECRET }),
      });
      expect(unsupported.status).toBe(400);
      expect(await unsupported.json()).toMatchObject({ error: 'unsupported_grant_type' });

      const repeated = await call('/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=a&client_id=b&client_secret=x',
      });
      expect(repeated.status).toBe(400);
      expect(await repeated.json()).toMatchObject({ error: 'invalid_request' });

      const text = await call('/token', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hello',
      });
      expect(text.status).toBeGreaterThanOrEqual(400);
      expect(text.status).toBeLessThan(500);
      expect(await text.json()).toMatchObject({ error: 'invalid_request' });
    });

    it('never echoes a secret in an error', async () => {
      const answer = await call('/token', {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: 'leak-me-123',
        }),
      });
      expect(await answer.text()).not.toContain('leak-me-123');
    });

    it('answers 503 with Retry-After while the issuer is down and a new grant is needed', async () => {
      issuer.issuer.setFaults({ mode: 'unavailable' });
      try {
        const answer = await call('/token', {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: 'never-seen',
            client_secret: 'x',
          }),
        });
        expect(answer.status).toBe(503);
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await answer.json()).toMatchObject({ error: 'temporarily_unavailable' });
      } finally {
        issuer.issuer.reset();
      }
    });
  });

  describe('GET /health and GET /metrics', () => {
    it('reports each dependency', async () => {
      const answer = await call('/health');
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({
        status: 'ok',
        info: { redis: { status: 'up', state: 'up' }, issuer: { status: 'up', state: expect.any(String) } },
      });
    });

    it('exposes the token and proxy metrics as Prometheus text', async () => {
      await call('/echo/metrics-probe', { headers: { authorization: GOOD } });
      const answer = await call('/metrics');
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/text\/plain/);
      const text = await answer.text();
      expect(text).toMatch(
        /v3_token_grants_total\{outcome="success",grant_type="client_credentials"\} [1-9]/,
      );
      expect(text).toMatch(
        /v3_token_grants_total\{outcome="invalid_credentials",grant_type="client_credentials"\} [1-9]/,
      );
      expect(text).toMatch(/v3_token_cache_hits_total\{tier="memory"\} [1-9]/);
      expect(text).toMatch(/v3_token_cache_misses_total [1-9]/);
      expect(text).toMatch(/v3_token_grant_duration_seconds_count [1-9]/);
      expect(text).toMatch(/v3_token_breaker_state [0-2]/);
      expect(text).toMatch(
        /gateway_proxy_duration_seconds_count\{route="\/echo",method="GET",status="200"\} [1-9]/,
      );
      expect(text).toMatch(
        /gateway_proxy_duration_seconds_count\{route="\/down",method="GET",status="502"\} [1-9]/,
      );
      expect(text).toContain('process_cpu_seconds_total');
      expect(text).not.toContain(SECRET);
    });

    it('stays 200 and keeps serving from memory while Redis is down, reporting it degraded', async () => {
      await call('/echo/warm', { headers: { authorization: GOOD } });
      await redis.kill();
      try {
        let health: Record<string, unknown> = {};
        for (let i = 0; i < 40; i++) {
          const probe = await call('/echo/during-outage', { headers: { authorization: GOOD } });
          expect(probe.status).toBe(200);
          const answer = await call('/health');
          expect(answer.status).toBe(200);
          health = await answer.json();
          if ((health.info as { redis?: { state?: string } } | undefined)?.redis?.state === 'down') break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(health).toMatchObject({
          status: 'degraded',
          info: { redis: { status: 'degraded', state: 'down' } },
        });
      } finally {
        await redis.restart();
      }
    });
  });
});
