import { describe, it, expect } from '@jest/globals';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pinoHttp, type Options } from 'pino-http';
import { parseGatewayConfig } from '../config/gateway.config.js';
import { AccessLog } from './access-log.js';
import { gatewayLoggerParams } from './logger.options.js';
import { requestIdOf } from './request-id.js';

interface Line {
  level: number;
  msg: string;
  reqId: string;
  req: { method: string; url: string };
  res: { statusCode: number };
  responseTime: number;
}

const config = parseGatewayConfig({
  GATEWAY_ROUTES: '/v3=http://p:1',
  LOG_LEVEL: 'info',
  NODE_ENV: 'production',
  V3_TOKEN_URL: 'https://issuer.example/token',
});

interface LoggedRequest {
  method?: string;
  url: string;
  status: number;
  headers?: Record<string, string>;
  /** The caller address it is counted under. @default '127.0.0.1' */
  from?: string;
}

/** An `AccessLog` writing through the gateway's root logger (as nestjs-pino builds it), on a clock the test moves. */
function accessLog() {
  const written: string[] = [];
  const logger = pinoHttp(gatewayLoggerParams(config).pinoHttp as Options, {
    write: (line: string) => written.push(line),
  }).logger;
  const clock = { at: 1_000_000, now: () => clock.at };
  const log = new AccessLog(logger, {
    callerAddress: (request) => (request as unknown as { from: string }).from,
    clock,
    windowMs: 60_000,
  });
  const send = (...requests: LoggedRequest[]): void => {
    for (const { method = 'POST', url, status, headers = {}, from = '127.0.0.1' } of requests) {
      const request = {
        method,
        url,
        raw: { method, url, headers },
        headers,
        from,
        body: { client_secret: 'body-secret' },
      } as unknown as FastifyRequest;
      log.record(request, { statusCode: status, elapsedTime: 1.23456 } as unknown as FastifyReply);
    }
  };
  const lines = () => written.map((line) => JSON.parse(line) as Line);
  return { log, clock, send, lines };
}

/** The lines `requests` write, one access log for them all. */
function accessLines(...requests: LoggedRequest[]): Line[] {
  const { send, lines } = accessLog();
  send(...requests);
  return lines();
}

describe('logAccess', () => {
  it('writes one line with the request id, method, path, status and response time', () => {
    const [line] = accessLines({ url: '/token', status: 200, headers: { 'x-request-id': 'req-42' } });
    expect(line).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: process.pid,
      hostname: expect.any(String),
      msg: 'request completed',
      reqId: 'req-42',
      req: { method: 'POST', url: '/token' },
      res: { statusCode: 200 },
      responseTime: 1.235,
    });
  });

  it('logs below 400 at info, 4xx at warn, 5xx at error', () => {
    const lines = accessLines(
      { url: '/token', status: 200 },
      { url: '/token', status: 304 },
      { url: '/token', status: 401 },
      { method: 'GET', url: '/nowhere', status: 404 },
      { url: '/token', status: 429 },
      { url: '/token', status: 500 },
      { url: '/token', status: 503 },
    );
    expect(lines.map(({ level, msg, res }) => [level, msg, res.statusCode])).toEqual([
      [30, 'request completed', 200],
      [30, 'request completed', 304],
      [40, 'request completed', 401],
      [40, 'request completed', 404],
      [40, 'request completed', 429],
      [50, 'request errored', 500],
      [50, 'request errored', 503],
    ]);
  });

  it('logs the path without its query string, and never headers, credentials or bodies', () => {
    const headers = {
      authorization: 'Basic c2VjcmV0',
      cookie: 'session=abc',
      'x-request-id': 'req-1',
    };
    const lines = accessLines({ url: '/token?client_secret=query-secret&x=1', status: 200, headers });
    expect(lines).toHaveLength(1);
    expect(lines[0].req).toEqual({ method: 'POST', url: '/token' });
    const output = JSON.stringify(lines);
    for (const secret of [
      'query-secret',
      'c2VjcmV0',
      'session=abc',
      'body-secret',
      'authorization',
      'headers',
    ]) {
      expect(output).not.toContain(secret);
    }
  });

  it('uses the request id Fastify and the proxy use, random when none came in', () => {
    const raw = { headers: {} };
    const id = requestIdOf(raw);
    const { log, lines } = accessLog();
    log.record(
      { method: 'GET', url: '/other', raw } as unknown as FastifyRequest,
      { statusCode: 200, elapsedTime: 0 } as unknown as FastifyReply,
    );
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines()[0].reqId).toBe(id);
  });

  it('does not log /health and /metrics, whatever their query or status', () => {
    expect(
      accessLines(
        { method: 'GET', url: '/health', status: 200 },
        { method: 'GET', url: '/health', status: 503 },
        { method: 'GET', url: '/metrics?name[]=x', status: 200 },
      ),
    ).toEqual([]);
    expect(accessLines({ method: 'GET', url: '/healthz', status: 404 })).toHaveLength(1);
  });

  it('writes one 4xx line per caller address and status per window, then one line with the count of the repeats', () => {
    const { log, clock, send, lines } = accessLog();
    const guesses = Array.from({ length: 300 }, () => ({ url: '/token', status: 401, from: '127.0.0.2' }));
    send(
      ...guesses,
      { url: '/token', status: 429, from: '127.0.0.2' },
      { url: '/token', status: 429, from: '127.0.0.2' },
    );
    send(
      { url: '/token', status: 401, from: '127.0.0.3' },
      { url: '/token', status: 200, from: '127.0.0.2' },
    );
    send(
      { url: '/token', status: 200, from: '127.0.0.2' },
      { url: '/token', status: 503, from: '127.0.0.2' },
    );
    send({ url: '/token', status: 503, from: '127.0.0.2' });
    expect(lines().map(({ level, res }) => [level, res.statusCode])).toEqual([
      [40, 401],
      [40, 429],
      [40, 401],
      [30, 200],
      [30, 200],
      [50, 503],
      [50, 503],
    ]);

    clock.at += 60_000;
    log.flush();
    const summaries = lines()
      .slice(7)
      .map((line) => [line.level, line.msg]);
    expect(summaries).toEqual([
      [40, 'Requests from 127.0.0.2 answered 401 — 299 more times in the last 60 s'],
      [40, 'Requests from 127.0.0.2 answered 429 — 1 more time in the last 60 s'],
    ]);
    send({ url: '/token', status: 401, from: '127.0.0.2' });
    expect(lines()).toHaveLength(10);
  });

  it('writes the counts of open windows at shutdown (flush all)', () => {
    const { log, send, lines } = accessLog();
    send({ method: 'GET', url: '/a', status: 404 }, { method: 'GET', url: '/b', status: 404 });
    log.flush();
    expect(lines()).toHaveLength(1);
    log.flush(true);
    expect(lines().map((line) => line.msg)).toEqual([
      'request completed',
      'Requests from 127.0.0.1 answered 404 — 1 more time in the last 1 s',
    ]);
  });
});
