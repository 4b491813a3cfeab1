import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { V3Principal } from 'nestjs-v3-token-auth';
import type { ProxyAuthenticator } from './proxied-route.js';
import { ProxyDataPlane } from './proxy-data-plane.js';

const PRINCIPAL: V3Principal = {
  clientId: 'c',
  accessToken: 'at',
  tokenType: 'Bearer',
  expiresAt: Date.now() + 60_000,
};

/** An authenticator on its warm path that counts its calls. */
function countingAuthenticator(): ProxyAuthenticator & { calls: number } {
  return {
    calls: 0,
    authenticate(exchange) {
      this.calls++;
      exchange.user = PRINCIPAL;
      return true;
    },
    refused: () => Promise.resolve(),
    reauthenticate: () => Promise.resolve(PRINCIPAL),
  };
}

const silent = { warn: () => {}, error: () => {} };

/**
 * Sends `head` (a request line and headers, then `connection`) on a raw socket and resolves the answer's status and
 * body once the server ends the connection.
 */
function rawRequest(
  port: number,
  head: string,
  connection = 'Connection: close\r\n',
): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('end', () => {
      const split = data.indexOf('\r\n\r\n');
      resolve({
        status: Number(data.slice(9, 12)),
        headers: data.slice(0, split).toLowerCase(), // header names and values, lower-cased
        body: data.slice(split + 4),
      });
    });
    socket.write(`${head}\r\n${connection}\r\n`);
  });
}

describe('ProxyDataPlane', () => {
  const seen: Array<{ server: string; url: string; headers: IncomingHttpHeaders }> = [];
  const servers: Server[] = [];
  let ports: { v3: number; deep: number; gateway: number };
  let auth: ReturnType<typeof countingAuthenticator>;
  let dataPlane: ProxyDataPlane;
  let routed: string[];

  const listen = async (server: Server): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const downstream = (name: string): Server =>
    createServer((request, response) => {
      seen.push({ server: name, url: request.url!, headers: request.headers });
      request.resume();
      response.end(name);
    });

  beforeAll(async () => {
    const v3 = await listen(downstream('v3'));
    const deep = await listen(downstream('deep'));
    auth = countingAuthenticator();
    dataPlane = new ProxyDataPlane({
      routes: [
        { prefix: '/v3', target: `http://127.0.0.1:${v3}`, scopes: [], public: false },
        { prefix: '/v3/deep', target: `http://127.0.0.1:${deep}/base`, scopes: [], public: false },
      ],
      upstreamTimeoutMs: 5_000,
      auth,
      logger: silent,
    });
    routed = [];
    const gateway = await listen(
      createServer((request, response) => {
        if (dataPlane.serve(request, response)) return;
        routed.push(request.url!);
        response.writeHead(404, { 'content-length': 6 }).end('router');
      }),
    );
    ports = { v3, deep, gateway };
  });
  afterAll(async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await dataPlane.close();
  });

  const get = (target: string, method = 'GET') =>
    rawRequest(ports.gateway, `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${ports.gateway}`);

  it('serves a route prefix itself, with a request id, and leaves every other target to the router', async () => {
    for (const target of ['/v3', '/v3/a?x=1', '/v3?x=1']) {
      const answer = await get(target);
      expect([target, answer.status, answer.body]).toEqual([target, 200, 'v3']);
      expect(answer.headers).toMatch(/^x-request-id: [0-9a-f-]{36}$/m);
    }
    for (const target of ['/v3x', '/token', '/', '/V3/a', '//v3/a']) {
      const answer = await get(target);
      expect([target, answer.body]).toEqual([target, 'router']);
    }
    expect(routed).toEqual(['/v3x', '/token', '/', '/V3/a', '//v3/a']);
  });

  it('gives a target to the longest prefix it lies under, with that route’s base path', async () => {
    const before = seen.length;
    const answer = await get('/v3/deep/item');
    expect(answer.body).toBe('deep');
    expect(seen.slice(before).map(({ server, url }) => [server, url])).toEqual([
      ['deep', '/base/v3/deep/item'],
    ]);
  });

  it('claims an absolute-form http target under a prefix, and refuses it when its authority is not the Host', async () => {
    const own = await get(`http://127.0.0.1:${ports.gateway}/v3/abs`);
    expect([own.status, own.body]).toEqual([200, 'v3']);
    const before = seen.length;
    const other = await get('http://169.254.169.254/v3/latest');
    expect(other.status).toBe(400);
    expect(JSON.parse(other.body)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(seen.length).toBe(before);
    const gopher = await get('gopher://x/v3');
    expect(gopher.body).toBe('router');
  });

  it('refuses TRACE and unrelayed methods with a JSON 405 naming the method, before authentication', async () => {
    const calls = auth.calls;
    const before = seen.length;
    for (const method of ['TRACE', 'PROPFIND']) {
      const answer = await get('/v3/a', method);
      expect(answer.status).toBe(405);
      expect(answer.headers).toMatch(/^allow: get, head, post, put, patch, delete, options, query$/m);
      expect(JSON.parse(answer.body)).toMatchObject({
        statusCode: 405,
        message: expect.stringContaining(method),
      });
    }
    expect(auth.calls).toBe(calls);
    expect(seen.length).toBe(before);
  });

  it('refuses a path that leaves its route with a JSON 400 and never calls the downstream', async () => {
    const before = seen.length;
    const answer = await get('/v3/../token');
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/leaves its route/),
    });
    expect(seen.length).toBe(before);
  });

  it.each([
    '/v3/./deep/x',
    '/v3/x/../deep/x',
    '/v3//deep/x',
    '/v3/deep;x/y',
    '/v3/%64eep/x',
    '/v3/DEEP/x',
    '/v3/..#',
    '/v3/x/..#/y',
    '/v3/%zz',
    '/v3/%c0%ae%c0%ae/x',
  ])(
    'refuses %s with a JSON 400 before authentication: it reads as another route or leaves its own',
    async (target) => {
      const calls = auth.calls;
      const before = seen.length;
      const answer = await get(target);
      expect([target, answer.status]).toEqual([target, 400]);
      expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 400, message: expect.any(String) });
      expect(auth.calls).toBe(calls);
      expect(seen.length).toBe(before);
    },
  );

  it.each([
    ['two Host lines', 'Host: 127.0.0.1\r\nHost: evil.example', /more than one Host/],
    ['a Host with a space', 'Host: a b', /not a valid host/],
    ['a Host with a path', 'Host: x/../y', /not a valid host/],
  ])('refuses %s with a JSON 400 before authentication', async (_, hostLines, message) => {
    const calls = auth.calls;
    const before = seen.length;
    const answer = await rawRequest(ports.gateway, `GET /v3/a HTTP/1.1\r\n${hostLines}`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(message),
    });
    expect(auth.calls).toBe(calls);
    expect(seen.length).toBe(before);
    expect((await rawRequest(ports.gateway, 'GET /v3/a HTTP/1.1\r\nHost: [::1]:8080')).status).toBe(200);
  });

  it('relays the caller’s token as Bearer and drops its Authorization header', async () => {
    const before = seen.length;
    await rawRequest(
      ports.gateway,
      `GET /v3/who HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${Buffer.from('c:s').toString('base64')}`,
    );
    expect(seen.slice(before).map(({ headers }) => headers.authorization)).toEqual(['Bearer at']);
  });

  it('answers 503 and closes the connection once draining, without authenticating or calling the downstream', async () => {
    const calls = auth.calls;
    const before = seen.length;
    dataPlane.drain();
    // A keep-alive request: the answer ends the connection (rawRequest resolves only once the server closes it).
    const answer = await rawRequest(ports.gateway, `GET /v3/a HTTP/1.1\r\nHost: 127.0.0.1`, '');
    expect(answer.status).toBe(503);
    expect(answer.headers).toMatch(/^connection: close$/m);
    expect(JSON.parse(answer.body)).toMatchObject({
      statusCode: 503,
      message: expect.stringMatching(/shutting down/),
    });
    expect(auth.calls).toBe(calls);
    expect(seen.length).toBe(before);
    expect((await get('/token')).body).toBe('router');
  });
});

describe('ProxyDataPlane with requests pipelined on one connection', () => {
  const servers: Server[] = [];
  let dataPlane: ProxyDataPlane;
  let gateway: number;
  let calls = 0;

  beforeAll(async () => {
    const listen = async (server: Server): Promise<number> => {
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    };
    const slow = await listen(
      createServer((request, response) => {
        calls++;
        request.resume();
        setTimeout(() => response.end('slow'), 200).unref();
      }),
    );
    dataPlane = new ProxyDataPlane({
      routes: [{ prefix: '/slow', target: `http://127.0.0.1:${slow}`, scopes: [], public: true }],
      upstreamTimeoutMs: 5_000,
      auth: countingAuthenticator(),
      logger: silent,
      connections: 2,
      queueTimeoutMs: 300,
    });
    gateway = await listen(
      createServer((request, response) => {
        if (!dataPlane.serve(request, response)) response.writeHead(404).end();
      }),
    );
  });
  afterAll(async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await dataPlane.close();
  });

  it('gives back the downstream slots of requests whose caller left while their answers waited in line', async () => {
    const socket = connect(gateway, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const request = 'GET /slow/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(request.repeat(3));
    const deadline = Date.now() + 2_000;
    while (calls < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toBe(2);
    socket.destroy();
    // Past the downstream's answers and the queue timeout: every slot the three took is free again.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const answers = await Promise.all([
      rawRequest(gateway, 'GET /slow/a HTTP/1.1\r\nHost: 127.0.0.1'),
      rawRequest(gateway, 'GET /slow/b HTTP/1.1\r\nHost: 127.0.0.1'),
    ]);
    expect(answers.map((answer) => [answer.status, answer.body])).toEqual([
      [200, 'slow'],
      [200, 'slow'],
    ]);
  });
});

describe('ProxyDataPlane when the work after an asynchronous authentication throws', () => {
  let server: Server;
  let dataPlane: ProxyDataPlane;
  const logged: string[] = [];

  beforeAll(async () => {
    dataPlane = new ProxyDataPlane({
      routes: [{ prefix: '/v3', target: 'http://127.0.0.1:9', scopes: [], public: false }],
      upstreamTimeoutMs: 5_000,
      auth: {
        // Resolves, but leaves the exchange in a state the route cannot serve: admitting it throws.
        authenticate: (exchange) =>
          Promise.resolve().then(() => {
            exchange.forwarding = undefined;
            return true;
          }),
        refused: () => Promise.resolve(),
        reauthenticate: () => Promise.resolve(PRINCIPAL),
      },
      logger: { warn: () => {}, error: (_fields, message) => logged.push(message) },
    });
    server = createServer((request, response) => {
      if (!dataPlane.serve(request, response)) response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await dataPlane.close();
  });

  it('answers a JSON 500 that names nothing, and logs it, instead of leaving an unhandled rejection', async () => {
    const { port } = server.address() as AddressInfo;
    const answer = await rawRequest(port, 'GET /v3/a HTTP/1.1\r\nHost: 127.0.0.1');
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 500 });
    expect(answer.body).not.toMatch(/forwarding|TypeError/);
    expect(logged).toEqual(['proxy request failed']);
  });
});
