import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { freePort } from '../../../../test/support/free-port.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import { V3TokenClient, type V3TokenClientOptions } from './v3-token.client.js';
import {
  V3BadRequestException,
  V3IssuerThrottledException,
  V3IssuerUnavailableException,
  V3ProtocolException,
} from '../v3-token.exceptions.js';
import { IssuerQueueFullError } from './issuer-queue-full.error.js';
import { TokenEndpointError } from './token-endpoint.error.js';
import { toV3Exception } from './token-endpoint-error.mapper.js';

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
  socketId: number;
  receivedAt: number;
}

type Handler = (request: RecordedRequest, response: ServerResponse) => void;

const TOKEN = {
  access_token: 'eyJhbGciOiJSUzI1NiJ9.payload.signature',
  token_type: 'Bearer',
  expires_in: 300,
};

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('V3TokenClient', () => {
  let server: Server;
  let tokenUrl: string;
  let handler: Handler;
  let requests: RecordedRequest[];
  let clients: V3TokenClient[];
  const socketIds = new WeakMap<Socket, number>();
  let nextSocketId = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const recorded: RecordedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          form: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
          socketId: socketIds.get(req.socket) ?? -1,
          receivedAt: Date.now(),
        };
        requests.push(recorded);
        handler(recorded, res);
      });
    });
    server.on('connection', (socket) => socketIds.set(socket, nextSocketId++));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realms/acme/protocol/openid-connect/token`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    requests = [];
    clients = [];
    handler = (_req, res) => json(res, 200, TOKEN);
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  function events(): { grants: [string, string, number][]; states: string[]; observer: V3TokenAuthObserver } {
    const grants: [string, string, number][] = [];
    const states: string[] = [];
    return {
      grants,
      states,
      observer: {
        grant: (outcome, grantType, durationMs) => grants.push([outcome, grantType, durationMs]),
        breakerState: (state) => states.push(state),
      },
    };
  }

  function client(options: Partial<V3TokenClientOptions> = {}): V3TokenClient {
    const created = new V3TokenClient({
      tokenUrl,
      timeoutMs: 1000,
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      ...options,
    });
    clients.push(created);
    return created;
  }

  describe('requests', () => {
    it('posts client_credentials with client_secret_post and returns the parsed answer with HTTP metadata', async () => {
      const { grants, observer } = events();
      handler = (_req, res) =>
        json(
          res,
          200,
          { ...TOKEN, token_type: 'bearer', session_state: 'x', 'not-before-policy': 0 },
          {
            'X-Request-Id': 'abc',
          },
        );

      const result = await client({ observer }).requestToken({
        grantType: 'client_credentials',
        clientId: 'customer_id',
        clientSecret: 's3cret',
      });

      expect(requests).toHaveLength(1);
      const [request] = requests;
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/realms/acme/protocol/openid-connect/token');
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(request.headers.accept).toBe('application/json');
      expect(request.headers.authorization).toBeUndefined();
      expect(request.form).toEqual({
        grant_type: 'client_credentials',
        client_id: 'customer_id',
        client_secret: 's3cret',
      });

      expect(result.v3TokenResponse).toEqual(TOKEN);
      expect(result.httpMeta.status).toBe(200);
      expect(result.httpMeta.headers['x-request-id']).toBe('abc');
      expect(result.httpMeta.headers['content-type']).toBe('application/json');
      expect(result.httpMeta.durationMs).toBeGreaterThanOrEqual(0);
      expect(grants).toEqual([['success', 'client_credentials', expect.any(Number)]]);
    });

    it('sends client_secret_basic per RFC 6749 §2.3.1 and keeps the secret out of the body', async () => {
      const clientId = 'my:client id%+';
      const clientSecret = 'p@ss word:%+/=';

      await client({ clientAuthMethod: 'client_secret_basic' }).requestToken({
        grantType: 'client_credentials',
        clientId,
        clientSecret,
      });

      const [request] = requests;
      const authorization = request.headers.authorization ?? '';
      expect(authorization.startsWith('Basic ')).toBe(true);
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      expect(decoded).toBe('my%3Aclient+id%25%2B:p%40ss+word%3A%25%2B%2F%3D');
      const [id, secret] = decoded.split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
      expect([id, secret]).toEqual([clientId, clientSecret]);
      expect(request.form).toEqual({ grant_type: 'client_credentials' });
    });

    it('sends client_id alone in the body for a client without a secret, even under client_secret_basic', async () => {
      await client({ clientAuthMethod: 'client_secret_basic' }).requestToken({
        grantType: 'password',
        clientId: 'public-app',
        username: 'alice',
        password: 'pw',
      });
      expect(requests[0].headers.authorization).toBeUndefined();
      expect(requests[0].form).toEqual({
        grant_type: 'password',
        client_id: 'public-app',
        username: 'alice',
        password: 'pw',
      });
    });

    it('sends the password grant fields and the scope', async () => {
      await client().requestToken({
        grantType: 'password',
        clientId: 'gateway',
        clientSecret: 'gw-secret',
        username: 'alice@example.com',
        password: 'p&ss=word +',
        scope: 'openid profile',
      });
      expect(requests[0].form).toEqual({
        grant_type: 'password',
        client_id: 'gateway',
        client_secret: 'gw-secret',
        username: 'alice@example.com',
        password: 'p&ss=word +',
        scope: 'openid profile',
      });
    });

    it('sends the refresh_token grant fields', async () => {
      await client().requestToken({
        grantType: 'refresh_token',
        clientId: 'gateway',
        clientSecret: 'gw-secret',
        refreshToken: 'refresh.jwt',
      });
      expect(requests[0].form).toEqual({
        grant_type: 'refresh_token',
        client_id: 'gateway',
        client_secret: 'gw-secret',
        refresh_token: 'refresh.jwt',
      });
    });

    it('rejects an incomplete grant without calling the issuer', async () => {
      const tokenClient = client();
      await expect(
        tokenClient.requestToken({ grantType: 'password', clientId: 'gateway' }),
      ).rejects.toBeInstanceOf(V3BadRequestException);
      await expect(
        tokenClient.requestToken({ grantType: 'refresh_token', clientId: 'gateway' }),
      ).rejects.toBeInstanceOf(V3BadRequestException);
      await expect(
        tokenClient.requestToken({ grantType: 'client_credentials', clientId: '' }),
      ).rejects.toBeInstanceOf(V3BadRequestException);
      expect(requests).toHaveLength(0);
    });

    it('takes issuedAt just before sending the request', async () => {
      handler = (_req, res) => setTimeout(() => json(res, 200, TOKEN), 150);
      const before = Date.now();
      const result = await client().requestToken({
        grantType: 'client_credentials',
        clientId: 'a',
        clientSecret: 'b',
      });
      const after = Date.now();
      expect(result.issuedAt).toBeGreaterThanOrEqual(before);
      expect(result.issuedAt).toBeLessThanOrEqual(requests[0].receivedAt);
      expect(after - result.issuedAt).toBeGreaterThanOrEqual(140);
    });

    it('reuses one keep-alive connection for sequential requests', async () => {
      const tokenClient = client({ connections: 1 });
      for (let i = 0; i < 4; i++) {
        await tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' });
      }
      expect(requests).toHaveLength(4);
      expect(new Set(requests.map((request) => request.socketId)).size).toBe(1);
    });

    it('keeps the pooled connections alive under the default pool size', async () => {
      // undici's Pool may hand a request to a second connection while the first is still settling, so
      // sequential requests use at most two sockets; without keep-alive every request would open one.
      const tokenClient = client();
      for (let i = 0; i < 8; i++) {
        await tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' });
      }
      expect(requests).toHaveLength(8);
      expect(new Set(requests.map((request) => request.socketId)).size).toBeLessThanOrEqual(2);
    });
  });

  describe('refused grants', () => {
    it.each([
      [401, 'unauthorized_client', 'Invalid client or Invalid client credentials', 'client_credentials'],
      [400, 'invalid_client', 'Invalid client credentials', 'client_credentials'],
      [400, 'invalid_grant', 'Invalid user credentials', 'password'],
      [400, 'invalid_grant', 'Token is not active', 'refresh_token'],
    ] as const)(
      'classifies Keycloak %i %s as a credential refusal and never retries',
      async (status, error, description, grantType) => {
        const { grants, observer } = events();
        handler = (_req, res) => json(res, status, { error, error_description: description });

        const thrown = await failure(
          client({ observer }).requestToken({
            grantType,
            clientId: 'a',
            clientSecret: 'b',
            username: 'u',
            password: 'p',
            refreshToken: 'r',
          }),
        );

        expect(thrown).toBeInstanceOf(TokenEndpointError);
        const refused = thrown as TokenEndpointError;
        expect(refused).toMatchObject({ kind: 'credential', status, error, errorDescription: description });
        expect(refused.retryable).toBe(false);
        expect(requests).toHaveLength(1);
        expect(grants).toEqual([['invalid_credentials', grantType, expect.any(Number)]]);
      },
    );

    it.each([
      [400, 'invalid_scope', 'Invalid scopes: admin', 'client_credentials'],
      [400, 'invalid_request', 'Missing form parameter: grant_type', 'client_credentials'],
      [400, 'unsupported_grant_type', 'Unsupported grant_type', 'client_credentials'],
      [400, 'invalid_target', 'Unknown resource', 'client_credentials'],
      [400, 'invalid_grant', 'Not allowed', 'client_credentials'],
    ] as const)(
      'classifies Keycloak %i %s as a request refusal and never retries',
      async (status, error, description, grantType) => {
        const { grants, observer } = events();
        handler = (_req, res) => json(res, status, { error, error_description: description });

        const thrown = await failure(
          client({ observer }).requestToken({
            grantType,
            clientId: 'a',
            clientSecret: 'b',
            refreshToken: 'r',
          }),
        );

        expect(thrown).toBeInstanceOf(TokenEndpointError);
        expect(thrown).toMatchObject({ kind: 'request', status, error, errorDescription: description });
        expect((thrown as TokenEndpointError).retryable).toBe(false);
        expect(requests).toHaveLength(1);
        expect(grants).toEqual([['invalid_request', grantType, expect.any(Number)]]);
      },
    );

    it.each([
      [400, 'text/html', '<html><body>Bad Request</body></html>', 'request', 'invalid_request'],
      [400, 'application/json', '{"error":"Not A Code!"}', 'request', 'invalid_request'],
      [400, 'application/json', '{"error":"access_denied"}', 'request', 'access_denied'],
      [401, 'application/json', '', 'credential', 'invalid_client'],
      [403, 'application/json', '{"message":"forbidden"}', 'credential', 'invalid_client'],
      [401, 'application/json', '{"error":"access_denied"}', 'credential', 'invalid_client'],
    ])(
      'classifies %i without a known OAuth error (%s %s) as %s %s',
      async (status, contentType, body, kind, error) => {
        handler = (_req, res) => {
          res.writeHead(status, { 'content-type': contentType });
          res.end(body);
        };
        const thrown = await failure(
          client().requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' }),
        );
        expect(thrown).toBeInstanceOf(TokenEndpointError);
        expect(thrown).toMatchObject({ kind, status, error });
        expect(requests).toHaveLength(1);
      },
    );

    it('cleans error_description: no control characters, no secret, at most 200 characters', async () => {
      const secret = 'Sup3r-Secret!';
      handler = (_req, res) =>
        json(res, 401, {
          error: 'invalid_client',
          error_description: `bad secret ${secret}\r\nX-Evil: 1\u0000${'x'.repeat(500)}`,
        });

      const thrown = (await failure(
        client().requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: secret }),
      )) as TokenEndpointError;

      const description = thrown.errorDescription ?? '';
      expect(description.startsWith('bad secret [redacted]')).toBe(true);
      expect(description).not.toMatch(/[\r\n]/);
      expect(description.includes('\u0000')).toBe(false);
      expect(description.length).toBeLessThanOrEqual(200);
      expect(JSON.stringify(toV3Exception(thrown))).not.toContain(secret);
      expect(thrown.message).not.toContain(secret);
    });

    it('redacts the secret from error_description in every encoding: URL-encoded, base64 of it and of id:secret', async () => {
      const secret = 's3cret/with+chars & more';
      const b64 = (text: string) => Buffer.from(text).toString('base64');
      const echoed = [
        encodeURIComponent(secret),
        encodeURIComponent(secret).toLowerCase(),
        new URLSearchParams({ s: secret }).toString().slice(2),
        b64(secret),
        Buffer.from(secret).toString('base64url'),
        b64(`svc:${secret}`),
      ];
      handler = (_req, res) =>
        json(res, 401, { error: 'invalid_client', error_description: `seen ${echoed.join(' | ')}` });

      const thrown = (await failure(
        client().requestToken({ grantType: 'client_credentials', clientId: 'svc', clientSecret: secret }),
      )) as TokenEndpointError;

      const description = thrown.errorDescription ?? '';
      expect(description.startsWith('seen [redacted]')).toBe(true);
      for (const form of echoed) expect(JSON.stringify(toV3Exception(thrown))).not.toContain(form);
      expect(description.split('[redacted]')).toHaveLength(echoed.length + 1);
    });

    it('never moves the circuit breaker, whatever the refusal', async () => {
      const refusals = ['unauthorized_client', 'invalid_scope', 'invalid_request', 'invalid_client'];
      handler = (_req, res) => json(res, 400, { error: refusals[requests.length % refusals.length] });
      const tokenClient = client({ circuitBreaker: { failureThreshold: 1 } });
      for (let i = 0; i < 8; i++) {
        await expect(
          tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' }),
        ).rejects.toBeInstanceOf(TokenEndpointError);
      }
      expect(tokenClient.breakerState).toBe('closed');
      expect(requests).toHaveLength(8);
    });
  });

  describe('unavailable issuer', () => {
    it('retries 5xx and then fails with a 503 exception', async () => {
      const { grants, observer } = events();
      handler = (_req, res) => json(res, 503, { error: 'temporarily_unavailable' });

      const thrown = await failure(
        client({ observer }).requestToken({
          grantType: 'client_credentials',
          clientId: 'a',
          clientSecret: 'topsecret',
        }),
      );

      expect(thrown).toMatchObject({ kind: 'issuer', status: 503, error: 'temporarily_unavailable' });
      expect((thrown as TokenEndpointError).retryable).toBe(true);
      expect((thrown as TokenEndpointError).message).toContain('HTTP 503');
      expect((thrown as TokenEndpointError).message).not.toContain('topsecret');
      expect(toV3Exception(thrown)).toBeInstanceOf(V3IssuerUnavailableException);
      expect(requests).toHaveLength(3);
      expect(grants).toEqual([['unavailable', 'client_credentials', expect.any(Number)]]);
    });

    it('recovers when a retry succeeds', async () => {
      const answers = [500, 502, 200];
      handler = (_req, res) => {
        const status = answers.shift() ?? 200;
        json(res, status, status === 200 ? TOKEN : { error: 'server_error' });
      };
      const result = await client().requestToken({
        grantType: 'client_credentials',
        clientId: 'a',
        clientSecret: 'b',
      });
      expect(result.v3TokenResponse.access_token).toBe(TOKEN.access_token);
      expect(requests).toHaveLength(3);
    });

    it('waits for Retry-After (capped at maxDelayMs) before retrying a 503', async () => {
      let calls = 0;
      handler = (_req, res) =>
        calls++ === 0
          ? json(res, 503, { error: 'temporarily_unavailable' }, { 'Retry-After': '1' })
          : json(res, 200, TOKEN);

      await client({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 200 } }).requestToken({
        grantType: 'client_credentials',
        clientId: 'a',
        clientSecret: 'b',
      });

      expect(requests).toHaveLength(2);
      const gap = requests[1].receivedAt - requests[0].receivedAt;
      expect(gap).toBeGreaterThanOrEqual(190);
    });

    it('answers an issuer 429 as throttled-by-issuer with its Retry-After, without retrying or moving the breaker', async () => {
      const { grants, observer } = events();
      handler = (_req, res) => json(res, 429, { error: 'slow_down' }, { 'Retry-After': '7' });
      const tokenClient = client({ observer, circuitBreaker: { failureThreshold: 1 } });
      const thrown = (await failure(
        tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' }),
      )) as TokenEndpointError;
      expect(thrown).toMatchObject({ kind: 'throttled-by-issuer', status: 429, retryAfterSeconds: 7 });
      expect(thrown.retryable).toBe(true);
      expect(requests).toHaveLength(1);
      expect(tokenClient.breakerState).toBe('closed');
      expect(grants).toEqual([['throttled_by_issuer', 'client_credentials', expect.any(Number)]]);
      const answered = toV3Exception(thrown) as V3IssuerThrottledException;
      expect(answered).toBeInstanceOf(V3IssuerThrottledException);
      expect(answered.getStatus()).toBe(429);
      expect(answered.headers['Retry-After']).toBe('7');
    });

    it("passes the issuer's Retry-After of a 503 on to the caller", async () => {
      handler = (_req, res) => json(res, 503, { error: 'temporarily_unavailable' }, { 'Retry-After': '7' });
      const thrown = await failure(
        client({ retry: { attempts: 1 } }).requestToken({
          grantType: 'client_credentials',
          clientId: 'a',
          clientSecret: 'b',
        }),
      );
      expect(thrown).toMatchObject({ kind: 'issuer', retryAfterSeconds: 7 });
      const answered = toV3Exception(thrown) as V3IssuerUnavailableException;
      expect(answered.retryAfterSeconds).toBe(7);
      expect(answered.headers['Retry-After']).toBe('7');
    });

    it('fails with unavailable when the issuer does not answer in time', async () => {
      handler = () => undefined;
      const started = Date.now();
      const thrown = await failure(
        client({ timeoutMs: 150, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }).requestToken({
          grantType: 'client_credentials',
          clientId: 'a',
          clientSecret: 'b',
        }),
      );
      expect(thrown).toMatchObject({ kind: 'issuer', status: undefined });
      expect((thrown as Error).message).toContain('no answer within 150 ms');
      expect(requests).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('fails with unavailable when the connection is refused', async () => {
      const port = await freePort();
      const { grants, observer } = events();
      const thrown = await failure(
        client({ tokenUrl: `http://127.0.0.1:${port}/token`, observer }).requestToken({
          grantType: 'client_credentials',
          clientId: 'a',
          clientSecret: 'b',
        }),
      );
      expect(thrown).toMatchObject({ kind: 'issuer', status: undefined });
      expect((thrown as Error).message).toContain('ECONNREFUSED');
      expect(grants).toEqual([['unavailable', 'client_credentials', expect.any(Number)]]);
    });

    it('fails with unavailable when the issuer drops the connection', async () => {
      handler = (_req, res) => res.socket?.destroy();
      const thrown = await failure(
        client().requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' }),
      );
      expect(thrown).toMatchObject({ kind: 'issuer' });
      expect(requests).toHaveLength(3);
    });
  });

  describe('malformed answers', () => {
    const raw =
      (status: number, contentType: string, body: string) =>
      (_req: RecordedRequest, res: ServerResponse): void => {
        res.writeHead(status, { 'content-type': contentType });
        res.end(body);
      };

    it.each([
      [
        'an HTML page',
        raw(200, 'text/html', '<html><body>Login</body></html>'),
        'not JSON (content-type: text/html)',
      ],
      ['a JSON array', raw(200, 'application/json', '[]'), 'not a JSON object'],
      [
        'no access_token',
        raw(200, 'application/json', '{"token_type":"Bearer","expires_in":60}'),
        'access_token',
      ],
      [
        'a numeric access_token',
        raw(200, 'application/json', '{"access_token":1,"token_type":"Bearer","expires_in":60}'),
        'access_token',
      ],
      [
        'a negative expires_in',
        raw(200, 'application/json', '{"access_token":"a","token_type":"Bearer","expires_in":-1}'),
        'expires_in',
      ],
      [
        'a huge expires_in',
        raw(200, 'application/json', '{"access_token":"a","token_type":"Bearer","expires_in":1e12}'),
        'expires_in',
      ],
      [
        'a MAC token',
        raw(200, 'application/json', '{"access_token":"a","token_type":"mac","expires_in":60}'),
        'token_type',
      ],
      [
        'a body over 64 KiB',
        raw(200, 'application/json', JSON.stringify({ ...TOKEN, pad: 'x'.repeat(70_000) })),
        'larger than 64 KiB',
      ],
      ['a 404', raw(404, 'text/html', 'Not Found'), 'HTTP 404'],
      ['a redirect', raw(302, 'text/html', ''), 'HTTP 302'],
    ])('answers %s with a protocol error, not retried', async (_label, answer, message) => {
      const { grants, observer } = events();
      handler = answer;
      const thrown = await failure(
        client({ observer }).requestToken({
          grantType: 'client_credentials',
          clientId: 'a',
          clientSecret: 'b',
        }),
      );
      expect(thrown).toBeInstanceOf(V3ProtocolException);
      expect((thrown as Error).message).toContain(message);
      expect(requests).toHaveLength(1);
      expect(grants).toEqual([['protocol_error', 'client_credentials', expect.any(Number)]]);
    });

    it('handles a chunked body over 64 KiB without a content-length', async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 10; i++) res.write('x'.repeat(10_000));
        res.end();
      };
      const tokenClient = client();
      await expect(
        tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' }),
      ).rejects.toBeInstanceOf(V3ProtocolException);
      handler = (_req, res) => json(res, 200, TOKEN);
      await expect(
        tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' }),
      ).resolves.toMatchObject({ v3TokenResponse: TOKEN });
    });
  });

  describe('circuit breaker', () => {
    it('opens after N failures, stops calling the issuer, then half-opens and recovers', async () => {
      const clock = { now: Date.now() };
      const { grants, states, observer } = events();
      handler = (_req, res) => json(res, 503, {});
      const tokenClient = client({
        now: () => clock.now,
        observer,
        retry: { attempts: 1 },
        circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 10_000 },
      });
      const grant = { grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' } as const;

      await expect(tokenClient.requestToken(grant)).rejects.toMatchObject({ kind: 'issuer' });
      expect(tokenClient.breakerState).toBe('closed');
      await expect(tokenClient.requestToken(grant)).rejects.toMatchObject({ kind: 'issuer' });
      expect(tokenClient.breakerState).toBe('open');
      expect(requests).toHaveLength(2);

      clock.now += 4_000;
      const fastFail = (await failure(tokenClient.requestToken(grant))) as TokenEndpointError;
      expect(fastFail).toMatchObject({ kind: 'issuer', status: undefined, retryAfterSeconds: 6 });
      expect(requests).toHaveLength(2);

      clock.now += 6_000;
      handler = (_req, res) => json(res, 200, TOKEN);
      expect(tokenClient.breakerState).toBe('half_open');
      await expect(tokenClient.requestToken(grant)).resolves.toMatchObject({ v3TokenResponse: TOKEN });
      expect(tokenClient.breakerState).toBe('closed');
      expect(requests).toHaveLength(3);

      expect(states).toEqual(['open', 'half_open', 'closed']);
      expect(grants.map(([outcome]) => outcome)).toEqual([
        'unavailable',
        'unavailable',
        'circuit_open',
        'success',
      ]);
    });

    it('re-opens when the half-open trial fails', async () => {
      const clock = { now: Date.now() };
      handler = (_req, res) => json(res, 500, {});
      const tokenClient = client({
        now: () => clock.now,
        retry: { attempts: 1 },
        circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 1_000 },
      });
      const grant = { grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' } as const;
      await expect(tokenClient.requestToken(grant)).rejects.toThrow('HTTP 500');
      clock.now += 1_000;
      await expect(tokenClient.requestToken(grant)).rejects.toThrow('HTTP 500');
      expect(tokenClient.breakerState).toBe('open');
      await expect(tokenClient.requestToken(grant)).rejects.toThrow('circuit breaker');
      expect(requests).toHaveLength(2);
    });
  });

  describe('call queue', () => {
    const grant = { grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' } as const;

    it("starts a call's timeout when it is sent, not while it waits for a connection", async () => {
      handler = (_req, res) => setTimeout(() => json(res, 200, TOKEN), 400);
      const tokenClient = client({ connections: 1, timeoutMs: 1500, retry: { attempts: 1 } });
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => tokenClient.requestToken(grant)));
      expect(results.map((result) => result.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      expect(requests).toHaveLength(4);
      expect(new Set(requests.map((request) => request.socketId)).size).toBe(1);
    });

    it('answers 503 with Retry-After when the queue is full, and the breaker does not count it', async () => {
      const { grants, states, observer } = events();
      const rejected: string[] = [];
      const depths: number[] = [];
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      handler = (_req, res) => void held.then(() => json(res, 200, TOKEN));
      const tokenClient = client({
        connections: 1,
        queueSize: 1,
        observer: {
          ...observer,
          issuerQueueRejected: (reason) => rejected.push(reason),
          issuerQueue: (waiting) => depths.push(waiting),
        },
        circuitBreaker: { failureThreshold: 1 },
      });
      const first = tokenClient.requestToken(grant);
      const second = tokenClient.requestToken(grant);
      const third = await failure(tokenClient.requestToken(grant));
      expect(third).toBeInstanceOf(IssuerQueueFullError);
      expect((third as IssuerQueueFullError).getStatus()).toBe(503);
      expect((third as IssuerQueueFullError).headers['Retry-After']).toBe('1');
      expect(rejected).toEqual(['full']);
      expect(Math.max(...depths)).toBe(1);
      release();
      await expect(first).resolves.toMatchObject({ v3TokenResponse: TOKEN });
      await expect(second).resolves.toMatchObject({ v3TokenResponse: TOKEN });
      expect(tokenClient.breakerState).toBe('closed');
      expect(states).toEqual([]);
      expect(grants.map(([outcome]) => outcome).sort()).toEqual(['queue_full', 'success', 'success']);
      expect(tokenClient.queueDepth).toEqual({ waiting: 0, active: 0 });
    });
  });

  it('fails as unavailable, without retrying, once closed; close is idempotent', async () => {
    const tokenClient = client();
    await tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' });
    await tokenClient.close();
    await tokenClient.close();
    const thrown = await failure(
      tokenClient.requestToken({ grantType: 'client_credentials', clientId: 'a', clientSecret: 'b' }),
    );
    expect(thrown).toMatchObject({ kind: 'issuer' });
    expect((thrown as Error).message).toContain('the client is closed');
    expect(requests).toHaveLength(1);
  });

  it('rejects a tokenUrl that is not http(s) or carries credentials', () => {
    expect(() => new V3TokenClient({ tokenUrl: 'not a url' })).toThrow('tokenUrl is not a valid URL');
    expect(() => new V3TokenClient({ tokenUrl: 'ftp://issuer/token' })).toThrow('http:// or https://');
    expect(() => new V3TokenClient({ tokenUrl: 'https://user:pw@issuer/token' })).toThrow(
      'must not contain credentials',
    );
  });
});
