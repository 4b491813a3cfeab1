import { describe, it, expect } from '@jest/globals';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pinoHttp, type Options } from 'pino-http';
import { parseGatewayConfig } from '../config/gateway.config.js';
import { logAccess } from './access-log.js';
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

/** Logs `requests` through the gateway's root logger (as nestjs-pino builds it) and returns the lines written. */
function accessLines(
  ...requests: Array<{ method?: string; url: string; status: number; headers?: Record<string, string> }>
): Line[] {
  const lines: string[] = [];
  const logger = pinoHttp(gatewayLoggerParams(config).pinoHttp as Options, {
    write: (line: string) => lines.push(line),
  }).logger;
  for (const { method = 'POST', url, status, headers = {} } of requests) {
    const request = {
      method,
      url,
      raw: { method, url, headers },
      headers,
      body: { client_secret: 'body-secret' },
    } as unknown as FastifyRequest;
    const reply = { statusCode: status, elapsedTime: 1.23456 } as unknown as FastifyReply;
    logAccess(logger, request, reply);
  }
  return lines.map((line) => JSON.parse(line) as Line);
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
    const lines: string[] = [];
    const logger = pinoHttp(gatewayLoggerParams(config).pinoHttp as Options, {
      write: (line: string) => lines.push(line),
    }).logger;
    logAccess(
      logger,
      { method: 'GET', url: '/other', raw } as unknown as FastifyRequest,
      { statusCode: 200, elapsedTime: 0 } as unknown as FastifyReply,
    );
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((JSON.parse(lines[0]) as Line).reqId).toBe(id);
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
});
