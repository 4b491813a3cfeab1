import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Socket } from 'node:net';
import { createGatewayApp, listenGateway } from '../src/app.factory.js';
import { parseGatewayConfig, type GatewayConfig } from '../src/config/gateway.config.js';
import { metricValue } from '../../../test/faults/fault-harness.js';
import { freePort } from '../../../test/support/free-port.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { waitFor } from '../../../test/support/wait.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';
import { rawConnect, rawRequest, readAnswer, type RawAnswer } from './support/raw-http.js';

const AUTHORIZATION = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;
/** A client no test warms: its first authenticated request costs the issuer a grant. */
const COLD_AUTHORIZATION = `Basic ${Buffer.from('cold-client:cold-secret').toString('base64')}`;

async function startGateway(
  env: Record<string, string>,
): Promise<{ app: NestFastifyApplication; port: number }> {
  const port = await freePort();
  const config: GatewayConfig = parseGatewayConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: String(port),
    ...env,
  });
  const app = await createGatewayApp(config);
  await listenGateway(app, config);
  return { app, port };
}

const jsonOf = (answer: RawAnswer): Record<string, unknown> =>
  JSON.parse(answer.body) as Record<string, unknown>;

describe('gateway edge (e2e, raw sockets)', () => {
  let issuer: TokenServer;
  let echo: EchoServer;
  /** Trusts 127.0.0.2 as a proxy; default limits. */
  let trusting: { app: NestFastifyApplication; port: number };
  /** No trusted proxy; a pool of 2, 1 request per caller, short timeouts, an admin port. */
  let tight: { app: NestFastifyApplication; port: number };
  let adminPort: number;

  const get = (port: number, target: string, extra = '', localAddress?: string) =>
    rawRequest(
      port,
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${AUTHORIZATION}${extra}`,
      {
        localAddress,
      },
    );

  /** `gateway_edge_refusals_total{reason}` as the gateway's `/metrics` on `metricsPort` tells it. */
  const refusals = async (metricsPort: number, reason: string): Promise<number> => {
    const answer = await rawRequest(metricsPort, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1');
    expect(answer.status).toBe(200);
    return metricValue(answer.body, 'gateway_edge_refusals_total', { reason });
  };

  beforeAll(async () => {
    [issuer, echo] = await Promise.all([
      startTokenServer({
        clients: {
          'demo-client': 'demo-secret',
          'cold-client': 'cold-secret',
          'owned-client': 'owner-secret',
        },
      }),
      startEchoServer(),
    ]);
    adminPort = await freePort();
    trusting = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/api=${echo.url}/internal/api,/echo=${echo.url}`,
      GATEWAY_TRUSTED_PROXIES: '127.0.0.2/32',
      GATEWAY_UPSTREAM_TIMEOUT_MS: '20000',
      TOKEN_MAX_FAILED_ATTEMPTS: '3',
    });
    tight = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/echo=${echo.url}`,
      GATEWAY_UPSTREAM_CONNECTIONS: '2',
      GATEWAY_MAX_INFLIGHT_PER_CLIENT: '1',
      GATEWAY_QUEUE_TIMEOUT_MS: '300',
      GATEWAY_BODY_IDLE_TIMEOUT_MS: '600',
      GATEWAY_HEADERS_TIMEOUT_MS: '1000',
      GATEWAY_REQUEST_TIMEOUT_MS: '3000',
      GATEWAY_ADMIN_PORT: String(adminPort),
    });
    // Warm both token caches so that every later request takes the proxied path at once.
    expect((await get(trusting.port, '/echo/warm')).status).toBe(200);
    expect((await get(tight.port, '/echo/warm')).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([trusting?.app.close(), tight?.app.close()]);
    await Promise.all([issuer?.close(), echo?.close()]);
  });

  describe('paths', () => {
    it.each([
      ['/api/x/y?q=1', '/internal/api/api/x/y?q=1'],
      ['/api/a/../b/./c', '/internal/api/api/b/c'],
      ['/api', '/internal/api/api'],
    ])('forwards %s as %s', async (target, expected) => {
      const before = echo.seen.length;
      const answer = await get(trusting.port, target);
      expect(answer.status).toBe(200);
      expect(echo.seen.slice(before).map((seen) => seen.url)).toEqual([expected]);
    });

    it.each([
      '/api/../admin',
      '/api/../../admin',
      '/api/a/../../admin',
      '/api/%2e%2e/admin',
      '/api/%2E%2E/%2e%2e/admin',
      '/api/.%2e/admin',
      '/api/%2e./admin',
      '/api/..%2fadmin',
      '/api/..%2Fadmin',
      '/api/..%5cadmin',
      '/api/..\\admin',
      '/api/a\\..\\..\\admin',
    ])('refuses %s with a 400 JSON naming the problem, and the downstream sees nothing', async (target) => {
      const before = echo.seen.length;
      const answer = await get(trusting.port, target);
      expect(answer.status).toBe(400);
      expect(answer.headers['content-type']).toContain('application/json');
      expect(jsonOf(answer)).toMatchObject({
        statusCode: 400,
        message: expect.stringMatching(/path|request/i),
      });
      expect(echo.seen.length).toBe(before);
    });

    it('reduces an absolute-form target for its own Host to origin-form', async () => {
      const before = echo.seen.length;
      const answer = await get(trusting.port, `http://127.0.0.1:${trusting.port}/api/abs?x=1`);
      expect(answer.status).toBe(200);
      expect(echo.seen.slice(before).map((seen) => seen.url)).toEqual(['/internal/api/api/abs?x=1']);
    });

    it.each(['http://169.254.169.254/api/latest', 'http://169.254.169.254/echo/latest'])(
      'refuses the absolute-form target %s whose authority is not the Host',
      async (target) => {
        const before = echo.seen.length;
        const answer = await get(trusting.port, target);
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
        expect(answer.headers['content-type']).toContain('application/json');
        expect(echo.seen.length).toBe(before);
      },
    );
  });

  describe('refused before authentication', () => {
    it('costs the issuer nothing: bad paths, bad absolute-form targets and TRACE with valid Basic credentials are refused before any grant', async () => {
      const refused: Array<[string, number]> = [
        ['GET /api/../../admin', 400],
        ['GET /api/%2e%2e/admin', 400],
        ['GET /api/..%2fadmin', 400],
        ['GET /api/..%5cadmin', 400],
        ['GET /api/..;/admin', 400],
        ['GET http://169.254.169.254/api/latest', 400],
        ['GET gopher://x/api', 404],
        ['TRACE /api/x', 405],
      ];
      const [badPathsBefore, methodsBefore] = await Promise.all([
        refusals(trusting.port, 'bad_path'),
        refusals(trusting.port, 'method'),
      ]);
      for (const [line, status] of refused) {
        const answer = await rawRequest(
          trusting.port,
          `${line} HTTP/1.1\r\nHost: 127.0.0.1:${trusting.port}\r\nAuthorization: ${COLD_AUTHORIZATION}`,
        );
        expect([line, answer.status]).toEqual([line, status]);
        expect(jsonOf(answer)).toMatchObject({ statusCode: status });
      }
      expect(issuer.issuer.grantCount('cold-client')).toBe(0);
      expect(await refusals(trusting.port, 'bad_path')).toBe(badPathsBefore + 6);
      expect(await refusals(trusting.port, 'method')).toBe(methodsBefore + 1);
      // The same credentials on a good path do cost one grant: the count above could have moved.
      expect((await get(trusting.port, '/api/ok', '')).status).toBe(200);
      const good = await rawRequest(
        trusting.port,
        `GET /api/ok HTTP/1.1\r\nHost: 127.0.0.1:${trusting.port}\r\nAuthorization: ${COLD_AUTHORIZATION}`,
      );
      expect(good.status).toBe(200);
      expect(issuer.issuer.grantCount('cold-client')).toBe(1);
    });
  });

  describe('methods and own errors', () => {
    it('answers TRACE with a JSON 405 and never proxies it', async () => {
      const before = echo.seen.length;
      const answer = await rawRequest(
        trusting.port,
        `TRACE /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}`,
      );
      expect(answer.status).toBe(405);
      expect(jsonOf(answer)).toMatchObject({ statusCode: 405, error: 'Method Not Allowed' });
      expect(echo.seen.length).toBe(before);
    });

    it('answers a method no route relays (PROPFIND) with a JSON 405 naming it, counted as a method refusal', async () => {
      const before = await refusals(trusting.port, 'method');
      const seen = echo.seen.length;
      const answer = await rawRequest(
        trusting.port,
        `PROPFIND /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}`,
      );
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY');
      expect(jsonOf(answer)).toMatchObject({ statusCode: 405, message: expect.stringContaining('PROPFIND') });
      expect(await refusals(trusting.port, 'method')).toBe(before + 1);
      expect(echo.seen.length).toBe(seen);
    });

    it('answers CONNECT with a JSON 405, counted as a method refusal', async () => {
      const before = await refusals(trusting.port, 'method');
      const answer = await rawRequest(
        trusting.port,
        `CONNECT 169.254.169.254:443 HTTP/1.1\r\nHost: 169.254.169.254:443`,
      );
      expect(answer.status).toBe(405);
      expect(jsonOf(answer)).toMatchObject({ statusCode: 405 });
      expect(await refusals(trusting.port, 'method')).toBe(before + 1);
    });

    it.each([
      [
        'Content-Length and Transfer-Encoding both',
        'Content-Length: 5\r\nTransfer-Encoding: chunked',
        400,
        /Transfer-Encoding beside Content-Length/,
      ],
      [
        'Transfer-Encoding before Content-Length',
        'Transfer-Encoding: chunked\r\nContent-Length: 5',
        400,
        /beside Transfer-Encoding/,
      ],
      ['two Content-Lengths', 'Content-Length: 5\r\nContent-Length: 6', 400, /repeated Content-Length/],
      ['a folded header line', 'X-Folded: a\r\n b', 400, /folded line/],
      ['a header name with a space', 'Bad Name: x', 400, /character HTTP does not allow/],
      ['a head larger than 16 KB', `X-Big: ${'a'.repeat(20_000)}`, 431, /larger than the gateway accepts/],
      ['an Expect other than 100-continue', 'Expect: 200-ok', 417, /100-continue/],
    ])(
      'answers a request with %s with a JSON of its status naming the problem, and proxies nothing',
      async (_, header, status, message) => {
        const before = echo.seen.length;
        const answer = await rawRequest(
          trusting.port,
          `POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n${header}`,
        );
        expect(answer.status).toBe(status);
        expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(jsonOf(answer)).toMatchObject({ statusCode: status, message: expect.stringMatching(message) });
        expect(answer.body).not.toContain(AUTHORIZATION.slice(6));
        expect(echo.seen.length).toBe(before);
      },
    );

    it('answers an unknown path with a plain JSON 404, not an OAuth error', async () => {
      for (const target of ['/nowhere', '/token/x', '/token', '/token?x=1']) {
        const answer = await rawRequest(trusting.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1`);
        expect(answer.status).toBe(404);
        const body = jsonOf(answer);
        expect(body).toMatchObject({ statusCode: 404, error: 'Not Found' });
        expect(body.error).not.toBe('server_error');
      }
    });
  });

  describe('header policy', () => {
    const forged =
      '\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: gopher' +
      '\r\nX-Forwarded-Port: 1\r\nX-Forwarded-Prefix: /admin\r\nForwarded: for=198.51.100.1\r\nX-Real-IP: 198.51.100.1' +
      '\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nCookie: sid=caller' +
      '\r\nX-HTTP-Method-Override: TRACE\r\nX-HTTP-Method: PROPFIND\r\nX-Method-Override: CONNECT';

    it('lets no spoofed address, scheme, user or underscore spelling of a dropped header through from a caller (127.0.0.3)', async () => {
      const before = echo.seen.length;
      const spoofed =
        '\r\nX_Real_IP: 198.51.100.66\r\nX_Forwarded_For: 198.51.100.66\r\nTrue-Client-IP: 198.51.100.66' +
        '\r\nCF-Connecting-IP: 198.51.100.66\r\nX-Forwarded-Scheme: https\r\nX-Forwarded-User: admin' +
        '\r\nRemote-User: admin\r\nX_Original_URL: /admin';
      expect((await get(trusting.port, '/echo/h', spoofed, '127.0.0.3')).status).toBe(200);
      const { headers } = echo.seen[before];
      expect(JSON.stringify(headers)).not.toContain('198.51.100.66');
      expect(JSON.stringify(headers)).not.toContain('admin');
      expect(headers['x-real-ip']).toBe('127.0.0.3');
      expect(headers['x-forwarded-scheme']).toBeUndefined();
    });

    it('replaces the forwarding headers of a caller that is not a trusted proxy (127.0.0.3)', async () => {
      const before = echo.seen.length;
      expect((await get(trusting.port, '/echo/h', forged, '127.0.0.3')).status).toBe(200);
      const { headers } = echo.seen[before];
      expect(headers['x-forwarded-for']).toBe('127.0.0.3');
      expect(headers['x-real-ip']).toBe('127.0.0.3');
      expect(headers['x-forwarded-host']).toBe(`127.0.0.1:${trusting.port}`);
      expect(headers['x-forwarded-proto']).toBe('http');
      expect(headers.forwarded).toBe(`for=127.0.0.3;proto=http;host="127.0.0.1:${trusting.port}"`);
      for (const name of [
        'x-forwarded-port',
        'x-forwarded-prefix',
        'x-original-url',
        'x-rewrite-url',
        'x-http-method-override',
        'x-http-method',
        'x-method-override',
      ])
        expect([name, headers[name]]).toEqual([name, undefined]);
      expect(headers.cookie).toBeUndefined();
    });

    it('appends to the forwarding headers of a trusted proxy (127.0.0.2) and takes the caller from them', async () => {
      const before = echo.seen.length;
      expect((await get(trusting.port, '/echo/h', forged, '127.0.0.2')).status).toBe(200);
      const { headers } = echo.seen[before];
      expect(headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.2');
      expect(headers.forwarded).toBe('for=198.51.100.1, for=127.0.0.2');
      expect(headers['x-real-ip']).toBe('203.0.113.9');
      expect(headers['x-forwarded-host']).toBe('evil.example');
      expect(headers['x-forwarded-prefix']).toBe('/admin');
      expect(headers['x-original-url']).toBeUndefined();
    });

    it('ignores X-Forwarded-For entirely on a gateway without trusted proxies, even from 127.0.0.2', async () => {
      const before = echo.seen.length;
      expect((await get(tight.port, '/echo/h', forged, '127.0.0.2')).status).toBe(200);
      const { headers } = echo.seen[before];
      expect(headers['x-forwarded-for']).toBe('127.0.0.2');
      expect(headers['x-real-ip']).toBe('127.0.0.2');
      expect(headers.forwarded).toBe(`for=127.0.0.2;proto=http;host="127.0.0.1:${tight.port}"`);
    });

    /** The caller address the gateway derived for a request with `extra` headers from `localAddress` (its `X-Real-IP`). */
    async function callerSeen(extra: string, localAddress: string): Promise<Record<string, unknown>> {
      const before = echo.seen.length;
      expect((await get(trusting.port, '/echo/who', extra, localAddress)).status).toBe(200);
      const { headers } = echo.seen[before];
      return { caller: headers['x-real-ip'], forwarded: headers.forwarded };
    }

    it.each([
      ['for=198.51.100.7', '198.51.100.7'],
      ['For="198.51.100.7:4711";proto=https', '198.51.100.7'],
      ['for="[2001:db8:cafe::17]:4711"', '2001:db8:cafe::17'],
      ['for="[2001:db8:cafe::17]"', '2001:db8:cafe::17'],
      ['for=198.51.100.1, for=127.0.0.2', '198.51.100.1'],
      ['for=198.51.100.1;by=_gw, for="127.0.0.2:80"', '198.51.100.1'],
    ])('takes the caller address from a trusted proxy’s Forwarded: %s → %s', async (forwarded, caller) => {
      expect(await callerSeen(`\r\nForwarded: ${forwarded}`, '127.0.0.2')).toEqual({
        caller,
        forwarded: `${forwarded}, for=127.0.0.2`,
      });
    });

    it.each([
      ['for=198.51.100.1, for=_hidden', 'an obfuscated node'],
      ['for=198.51.100.1, for=unknown', 'an unknown node'],
      ['for=198.51.100.1, proto=https', 'an element without for='],
    ])(
      'stops at %s (%s): the caller is the trusted proxy, never an address a caller could have written before it',
      async (forwarded) => {
        expect((await callerSeen(`\r\nForwarded: ${forwarded}`, '127.0.0.2')).caller).toBe('127.0.0.2');
      },
    );

    it('lets no malformed element a caller sent hide the element a proxy appended after it', async () => {
      // A quote left open would swallow the proxy's element, and the caller's text would read as a new address per
      // request (a fresh wrong-secret budget each time): the element the proxy appended counts.
      const seen = await callerSeen('\r\nForwarded: for="198.51.100.1, for=203.0.113.4', '127.0.0.2');
      expect(seen.caller).toBe('203.0.113.4');
      const appended = await callerSeen('\r\nForwarded: for=bogus:x:y, for=203.0.113.4', '127.0.0.2');
      expect(appended.caller).toBe('203.0.113.4');
    });

    it('counts wrong secrets by the Forwarded caller: guesses for=198.51.100.66 get 429, the owner for=198.51.100.77 behind the same proxy is served', async () => {
      const through = (secret: string, caller: string) =>
        rawRequest(
          trusting.port,
          `GET /echo/owned HTTP/1.1\r\nHost: 127.0.0.1\r\nForwarded: for="${caller}:5000"\r\n` +
            `Authorization: Basic ${Buffer.from(`owned-client:${secret}`).toString('base64')}`,
          { localAddress: '127.0.0.2' },
        );
      const guesses: number[] = [];
      for (let index = 0; index < 5; index++)
        guesses.push((await through(`guess-${index}`, '198.51.100.66')).status);
      expect(guesses).toEqual([401, 401, 401, 429, 429]);
      expect((await through('owner-secret', '198.51.100.77')).status).toBe(200);
    });

    it('lets X-Forwarded-For win over Forwarded when a trusted proxy sends both', async () => {
      expect(
        (await callerSeen('\r\nX-Forwarded-For: 203.0.113.9\r\nForwarded: for=198.51.100.1', '127.0.0.2'))
          .caller,
      ).toBe('203.0.113.9');
    });

    it('replaces the Forwarded of a caller that is not a trusted proxy (127.0.0.3), and ignores it for the caller address', async () => {
      expect(await callerSeen('\r\nForwarded: for=198.51.100.1', '127.0.0.3')).toEqual({
        caller: '127.0.0.3',
        forwarded: `for=127.0.0.3;proto=http;host="127.0.0.1:${trusting.port}"`,
      });
    });
  });

  describe('Expect: 100-continue', () => {
    const head = (authorization: string, target = '/echo/upload') =>
      `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\n` +
      'Content-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n';

    it('invites no body from a caller it refuses: the 401 comes without a 100 Continue before it', async () => {
      const before = echo.seen.length;
      const socket = await rawConnect(trusting.port);
      try {
        const answer = readAnswer(socket);
        socket.write(head(`Basic ${Buffer.from('demo-client:wrong').toString('base64')}`));
        const refused = await answer;
        expect(refused.status).toBe(401);
        expect(jsonOf(refused)).toMatchObject({ statusCode: 401 });
      } finally {
        socket.destroy();
      }
      expect(echo.seen.length).toBe(before);
    });

    it('sends 100 Continue once the caller is authenticated and admitted, then relays the body', async () => {
      const before = echo.seen.length;
      const socket = await rawConnect(trusting.port);
      try {
        const interim = readAnswer(socket);
        socket.write(head(AUTHORIZATION));
        expect((await interim).status).toBe(100);
        const answer = readAnswer(socket);
        socket.write('hello world');
        expect((await answer).status).toBe(200);
      } finally {
        socket.destroy();
      }
      expect(echo.seen[before]?.body).toBe('hello world');
    });
  });

  describe('cancellation and backpressure', () => {
    it('cancels the downstream call of a caller that disconnects', async () => {
      const socket = await rawConnect(trusting.port);
      socket.write(
        `GET /echo/slow?ms=15000&c=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n\r\n`,
      );
      await waitFor(() => echo.seen.some((seen) => seen.url === '/echo/slow?ms=15000&c=1'));
      socket.destroy();
      await waitFor(() => echo.cancelled.includes('/echo/slow?ms=15000&c=1'), 8000);
    });

    /** A POST whose body of `length` bytes is trickled, one byte per `everyMs`; resolves with its socket. */
    async function trickle(
      port: number,
      localAddress: string,
      everyMs: number,
      tag: string,
    ): Promise<Socket> {
      const socket = await rawConnect(port, { localAddress });
      socket.on('error', () => {});
      socket.write(
        `POST /echo/upload?${tag} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n` +
          `Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`,
      );
      const timer = setInterval(() => (socket.writable ? socket.write('x') : clearInterval(timer)), everyMs);
      socket.once('close', () => clearInterval(timer));
      return socket;
    }

    it('keeps slow uploads of one caller from starving another: the other is served, the extra uploads get 429', async () => {
      const [capsBefore, timeoutsBefore] = await Promise.all([
        refusals(adminPort, 'client_cap'),
        refusals(adminPort, 'request_timeout'),
      ]);
      const uploads = await Promise.all(
        Array.from({ length: 6 }, (_, index) => trickle(tight.port, '127.0.0.2', 100, `slow${index}`)),
      );
      const answers = uploads.map((socket) => readAnswer(socket).catch(() => undefined));
      const other = await get(tight.port, '/echo/other', '', '127.0.0.3');
      expect(other.status).toBe(200);
      const settled = await Promise.all(answers);
      const statuses = settled.map((answer) => answer?.status);
      expect(statuses.filter((status) => status === 429)).toHaveLength(5);
      const capped = settled.find((answer) => answer?.status === 429)!;
      expect(capped.headers['retry-after']).toBe('1');
      expect(jsonOf(capped)).toMatchObject({ statusCode: 429 });
      // The admitted one trickles forever: the total request timeout ends it with a JSON 408.
      expect(statuses.filter((status) => status === 408)).toHaveLength(1);
      expect(await refusals(adminPort, 'client_cap')).toBe(capsBefore + 5);
      expect(await refusals(adminPort, 'request_timeout')).toBe(timeoutsBefore + 1);
      for (const socket of uploads) socket.destroy();
    }, 30_000);

    it('answers a stalled body with a JSON 408 and cancels its downstream call', async () => {
      const idleBefore = await refusals(adminPort, 'body_idle_timeout');
      const socket = await rawConnect(tight.port, { localAddress: '127.0.0.3' });
      const answer = readAnswer(socket);
      socket.write(
        `POST /echo/stall HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n` +
          `Content-Length: 100\r\n\r\n0123456789`,
      );
      const stalled = await answer;
      expect(stalled.status).toBe(408);
      expect(jsonOf(stalled)).toMatchObject({ statusCode: 408, message: expect.stringContaining('600 ms') });
      await waitFor(() => echo.cancelled.includes('/echo/stall'), 8000);
      expect(await refusals(adminPort, 'body_idle_timeout')).toBe(idleBefore + 1);
      socket.destroy();
    }, 20_000);

    /** Everything `socket` receives until it closes (rejects after `timeoutMs`). */
    function readUntilClosed(socket: Socket, timeoutMs = 20_000): Promise<string> {
      return new Promise((resolve, reject) => {
        let text = '';
        const timer = setTimeout(
          () => reject(new Error(`still open after ${timeoutMs} ms; received ${JSON.stringify(text)}`)),
          timeoutMs,
        );
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(text);
        });
      });
    }
    const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g);

    it.each([
      ['a downstream answer', '/echo/early/413', AUTHORIZATION, 413],
      ['a refused credential', '/echo/x', `Basic ${Buffer.from('nobody:wrong').toString('base64')}`, 401],
    ])(
      'writes nothing after %s sent before the body ended, and ends the connection (the caller stalls)',
      async (_what, path, authorization, status) => {
        const socket = await rawConnect(tight.port, { localAddress: '127.0.0.3' });
        const received = readUntilClosed(socket);
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\n` +
            `Content-Length: 100000\r\n\r\n0123456789`,
        );
        // Past the body-idle (600 ms) and request (3000 ms) timeouts the socket has seen one answer only.
        expect(statusLines(await received)).toEqual([`HTTP/1.1 ${status}`]);
      },
      30_000,
    );

    it('frees the downstream connection of an early answer: the rest of the caller’s body is not sent on', async () => {
      const socket = await rawConnect(tight.port, { localAddress: '127.0.0.3' });
      socket.on('error', () => {});
      const answer = readAnswer(socket);
      socket.write(
        `POST /echo/early/413?abandon HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n` +
          `Content-Length: 100000\r\n\r\n0123456789`,
      );
      expect((await answer).status).toBe(413);
      // Well within the request timeout (3000 ms): the downstream's connection closed with its body unfinished.
      await waitFor(() => echo.abandoned.includes('/echo/early/413?abandon'), 2000);
      socket.destroy();
    }, 20_000);

    it('leaves the keep-alive timeout in force after an early answer whose body the caller then finishes', async () => {
      const socket = await rawConnect(tight.port, { localAddress: '127.0.0.3' });
      const received = readUntilClosed(socket);
      socket.write(
        `POST /echo/early/413 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n` +
          `Content-Length: 20\r\n\r\n0123456789`,
      );
      await waitFor(() => socket.bytesRead > 0);
      socket.write('0123456789');
      expect(statusLines(await received)).toEqual(['HTTP/1.1 413']);
    }, 30_000);

    it('keeps the connection of requests whose body was read before their answer', async () => {
      const socket = await rawConnect(tight.port, { localAddress: '127.0.0.3' });
      try {
        for (const [method, body] of [
          ['GET', ''],
          ['POST', '0123456789'],
          ['GET', ''],
        ]) {
          const answer = readAnswer(socket);
          socket.write(
            `${method} /echo/keep HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n` +
              `Content-Length: ${body.length}\r\n\r\n${body}`,
          );
          expect((await answer).status).toBe(200);
        }
        expect(socket.destroyed).toBe(false);
      } finally {
        socket.destroy();
      }
    });

    it('answers a request head that never completes with a JSON 408', async () => {
      const socket = await rawConnect(tight.port);
      const answer = readAnswer(socket);
      socket.write('GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const slow = await answer;
      expect(slow.status).toBe(408);
      expect(jsonOf(slow)).toMatchObject({ statusCode: 408 });
      socket.destroy();
    }, 20_000);

    it('answers 503 with Retry-After when no downstream connection comes free within the queue timeout', async () => {
      const holders = await Promise.all(
        ['127.0.0.2', '127.0.0.3'].map(async (localAddress, index) => {
          const socket = await rawConnect(tight.port, { localAddress });
          socket.on('error', () => {});
          socket.write(
            `GET /echo/slow?ms=4000&hold=${index} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTHORIZATION}\r\n\r\n`,
          );
          return socket;
        }),
      );
      await waitFor(() => echo.seen.filter((seen) => seen.url.includes('&hold=')).length === 2);
      const queueTimeoutsBefore = await refusals(adminPort, 'queue_timeout');
      const queued = await get(tight.port, '/echo/queued');
      expect(queued.status).toBe(503);
      expect(await refusals(adminPort, 'queue_timeout')).toBe(queueTimeoutsBefore + 1);
      expect(queued.headers['retry-after']).toBe('1');
      expect(jsonOf(queued)).toMatchObject({ statusCode: 503, message: expect.stringContaining('300 ms') });
      expect(echo.seen.some((seen) => seen.url === '/echo/queued')).toBe(false);
      for (const socket of holders) socket.destroy();
      await waitFor(() => echo.cancelled.filter((url) => url.includes('&hold=')).length === 2, 8000);
    }, 20_000);
  });

  describe('admin surface', () => {
    it('serves /health/live and /health/ready', async () => {
      for (const path of ['/health/live', '/health/ready']) {
        const answer = await rawRequest(trusting.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1`);
        expect(answer.status).toBe(200);
        expect(jsonOf(answer)).toEqual({ status: 'ok' });
      }
      expect((await rawRequest(trusting.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1')).status).toBe(200);
    });

    it('moves /health* and /metrics to GATEWAY_ADMIN_PORT and keeps proxied routes off it', async () => {
      for (const path of ['/health', '/health/ready', '/metrics']) {
        expect((await rawRequest(adminPort, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1`)).status).toBe(200);
        const main = await rawRequest(tight.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1`);
        expect(main.status).toBe(404);
        expect(jsonOf(main)).toMatchObject({
          statusCode: 404,
          message: expect.stringContaining('GATEWAY_ADMIN_PORT'),
        });
      }
      expect((await get(adminPort, '/echo/x')).status).toBe(404);
    });

    it.each(['/%6detrics', '/%68ealth', '/%68ealth/ready', '/metrics%3F', 'http://127.0.0.1/metrics'])(
      'keeps %s (the router reads it as an admin path) off the main port',
      async (target) => {
        const main = await rawRequest(tight.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1`);
        expect(main.status).toBe(404);
        expect(main.body).not.toContain('v3_token');
        expect(main.body).not.toContain('"redis"');
      },
    );

    it('answers a head node:http would answer with an empty body with JSON, on both listeners', async () => {
      for (const port of [tight.port, adminPort]) {
        const noHost = await rawRequest(port, 'GET /health HTTP/1.1');
        expect(noHost.status).toBe(400);
        expect(jsonOf(noHost)).toMatchObject({ statusCode: 400, message: expect.stringContaining('Host') });
        const http2 = await rawRequest(port, 'GET /echo/x HTTP/2.0\r\nHost: 127.0.0.1');
        expect(http2.status).toBe(505);
        expect(jsonOf(http2)).toMatchObject({
          statusCode: 505,
          message: expect.stringContaining('HTTP/1.1'),
        });
        const gzipped = await rawRequest(
          port,
          'POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked',
          { body: '3\r\nabc\r\n0\r\n\r\n' },
        );
        expect(gzipped.status).toBe(501);
        expect(jsonOf(gzipped)).toMatchObject({
          statusCode: 501,
          message: expect.stringContaining('chunked'),
        });
        const expectation = await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo');
        expect(expectation.status).toBe(417);
        expect(jsonOf(expectation)).toMatchObject({ statusCode: 417 });
      }
      const smuggled = await rawRequest(
        adminPort,
        'POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked',
        { body: '0\r\n\r\n' },
      );
      expect(smuggled.status).toBe(400);
      expect(jsonOf(smuggled)).toMatchObject({ statusCode: 400 });
    });

    it.each(['evil.example,127.0.0.1', '127.0.0.1;for=6.6.6.6', '127.0.0.1:99999', ''])(
      'refuses the Host %p on the data plane and on the router alike',
      async (host) => {
        for (const target of ['/echo/x', '/token']) {
          const answer = await rawRequest(tight.port, `GET ${target} HTTP/1.1\r\nHost: ${host}`);
          expect(answer.status).toBe(400);
          expect(jsonOf(answer)).toMatchObject({ statusCode: 400, message: expect.stringContaining('Host') });
        }
      },
    );
  });
});
