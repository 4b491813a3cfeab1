import type { FastifyInstance } from 'fastify';
import { describe, it, expect, beforeAll, afterAll, jest } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AsyncLocalStorage } from 'node:async_hooks';
import { PinoLogger } from 'nestjs-pino';
import { symbols } from 'pino';
import { Agent, fetch as fetchFrom } from 'undici';
import { createGatewayApp } from '../src/app.factory.js';
import { parseGatewayConfig } from '../src/config/gateway.config.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

const CLIENT = 'log-client';
const SECRET = 'log-secret-123';
const BASIC = `Basic ${Buffer.from(`${CLIENT}:${SECRET}`).toString('base64')}`;

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
}

/** Whether @fastify/middie (which runs Nest middleware on every request) is registered on `instance`. */
function hasMiddie(instance: FastifyInstance): boolean {
  const keeps = Object.getOwnPropertySymbols(instance).some(
    (symbol) => symbol.description === 'fastify-middie-middlewares',
  );
  return keeps || instance.hasDecorator('use');
}

describe('gateway logging (e2e)', () => {
  const lines: LogLine[] = [];
  let issuer: TokenServer;
  let echo: EchoServer;
  let app: NestFastifyApplication;
  let base: string;

  const accessLines = () => lines.filter((line) => line.req !== undefined);
  const token = (query = '', authorization = BASIC) =>
    fetch(`${base}/token${query}`, {
      method: 'POST',
      headers: { authorization, 'x-request-id': 'log-req-1' },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });

  beforeAll(async () => {
    [issuer, echo] = await Promise.all([
      startTokenServer({ clients: { [CLIENT]: SECRET } }),
      startEchoServer(),
    ]);
    app = await createGatewayApp(
      parseGatewayConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/echo=${echo.url}`,
      }),
    );
    // Boot logs stay out of the test output: the root logger writes to `lines` and logs at info from here on.
    const root = PinoLogger.root as unknown as Record<symbol, unknown> & { level: string };
    root[symbols.streamSym] = { write: (line: string) => lines.push(JSON.parse(line) as LogLine) };
    root.level = 'info';
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await Promise.all([issuer?.close(), echo?.close()]);
  });

  it('registers no Nest middleware, and no middleware engine (@fastify/middie) either', () => {
    expect(hasMiddie(app.getHttpAdapter().getInstance())).toBe(false);
  });

  it('never enters an AsyncLocalStorage context while serving the gateway routes and the proxy', async () => {
    // Spied inside the test: Jest itself enters one around each test and hook.
    const runs = jest.spyOn(AsyncLocalStorage.prototype, 'run');
    const entered = jest.spyOn(AsyncLocalStorage.prototype, 'enterWith');
    try {
      expect((await token()).status).toBe(200);
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      expect((await fetch(`${base}/nowhere`)).status).toBe(404);
      expect((await fetch(`${base}/echo/x`, { headers: { authorization: BASIC } })).status).toBe(200);
      expect(runs).not.toHaveBeenCalled();
      expect(entered).not.toHaveBeenCalled();
    } finally {
      runs.mockRestore();
      entered.mockRestore();
    }
  });

  it('access-logs the gateway routes with the request id, path, status and time; never the query or credentials', async () => {
    lines.length = 0;
    expect((await token('?client_secret=in-the-query')).status).toBe(200);
    expect(accessLines()).toEqual([
      {
        level: 30,
        time: expect.any(Number),
        pid: process.pid,
        hostname: expect.any(String),
        msg: 'request completed',
        reqId: 'log-req-1',
        req: { method: 'POST', url: '/token' },
        res: { statusCode: 200 },
        responseTime: expect.any(Number),
      },
    ]);
    const output = JSON.stringify(lines);
    for (const secret of ['in-the-query', BASIC.slice(6), SECRET]) expect(output).not.toContain(secret);
  });

  it('logs 4xx at warn, 5xx at error, and unknown paths like any gateway route', async () => {
    lines.length = 0;
    expect((await token('', `Basic ${Buffer.from(`${CLIENT}:wrong`).toString('base64')}`)).status).toBe(401);
    // From an address that met no 404 yet this minute: 4xx lines are one per caller address and status per minute.
    const elsewhere = new Agent({ localAddress: '127.0.0.6' });
    try {
      for (const path of ['/nowhere?x=1', '/elsewhere']) {
        expect((await fetchFrom(`${base}${path}`, { dispatcher: elsewhere })).status).toBe(404);
      }
    } finally {
      await elsewhere.close();
    }
    issuer.issuer.setFaults({ mode: 'unavailable' });
    try {
      const unavailable = await fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'x-request-id': 'log-req-503' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'new', client_secret: 'x' }),
      });
      expect(unavailable.status).toBe(503);
    } finally {
      issuer.issuer.reset();
    }
    expect(accessLines().map(({ level, msg, req, res }) => ({ level, msg, req, res }))).toEqual([
      {
        level: 40,
        msg: 'request completed',
        req: { method: 'POST', url: '/token' },
        res: { statusCode: 401 },
      },
      {
        level: 40,
        msg: 'request completed',
        req: { method: 'GET', url: '/nowhere' },
        res: { statusCode: 404 },
      },
      { level: 50, msg: 'request errored', req: { method: 'POST', url: '/token' }, res: { statusCode: 503 } },
    ]);
    // Failures the gateway logs inside a request carry its id too.
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'token unavailable', reqId: 'log-req-503' }),
    );
  });

  it('does not access-log /health, /metrics or proxied requests', async () => {
    lines.length = 0;
    await fetch(`${base}/health`);
    await fetch(`${base}/metrics?name=x`);
    expect((await fetch(`${base}/echo/quiet`, { headers: { authorization: BASIC } })).status).toBe(200);
    expect((await fetch(`${base}/echo/quiet`)).status).toBe(401);
    expect(accessLines()).toEqual([]);
  });
});
