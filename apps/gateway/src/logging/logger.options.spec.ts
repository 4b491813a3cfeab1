import { describe, it, expect } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type LevelWithSilent } from 'pino';
import { parseGatewayConfig } from '../config/gateway.config.js';
import { gatewayLoggerParams } from './logger.options.js';
import { requestIdOf } from './request-id.js';

class HealthController {}

const config = parseGatewayConfig({
  GATEWAY_ROUTES: '/v3=http://p:1',
  LOG_LEVEL: 'debug',
  NODE_ENV: 'production',
  V3_TOKEN_URL: 'https://issuer.example/token',
});

interface HttpOptions {
  level: LevelWithSilent;
  redact: { paths: string[]; censor: string };
  transport?: unknown;
  genReqId: (request: IncomingMessage, response: ServerResponse) => string;
  autoLogging: { ignore: (request: IncomingMessage & { originalUrl?: string }) => boolean };
  customLogLevel: (request: IncomingMessage, response: ServerResponse, error?: Error) => string;
}

const params = gatewayLoggerParams(config, [HealthController]);
const http = params.pinoHttp as HttpOptions;
const request = (headers: Record<string, string>, url = '/token') =>
  ({ headers, url }) as unknown as IncomingMessage;

describe('gatewayLoggerParams', () => {
  it('censors credentials and tokens at any level', () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'trace', redact: http.redact },
      { write: (line: string) => lines.push(line) },
    );
    logger.trace(
      {
        req: {
          headers: {
            authorization: 'Basic c2VjcmV0',
            cookie: 'session=abc',
            'proxy-authorization': 'Basic x',
          },
        },
        body: { client_secret: 'cs-1', password: 'pw-1', access_token: 'at-1', refresh_token: 'rt-1' },
        client_secret: 'cs-2',
      },
      'request',
    );
    logger.error({ response: { data: { access_token: 'at-2' } } }, 'failed');
    const output = lines.join('');
    for (const secret of [
      'c2VjcmV0',
      'session=abc',
      'Basic x',
      'cs-1',
      'pw-1',
      'at-1',
      'rt-1',
      'cs-2',
      'at-2',
    ]) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain('[Redacted]');
  });

  it('logs JSON at LOG_LEVEL, pretty only in development', () => {
    expect(http.level).toBe('debug');
    expect(http.transport).toBeUndefined();
    const development = gatewayLoggerParams({ ...config, nodeEnv: 'development' }, [])
      .pinoHttp as HttpOptions;
    expect(development.transport).toMatchObject({ target: 'pino-pretty' });
  });

  it('uses a sane incoming x-request-id, else a random one, the same for the whole request', () => {
    const response = {} as ServerResponse;
    expect(http.genReqId(request({ 'x-request-id': 'abc-123' }), response)).toBe('abc-123');
    const hostile = request({ 'x-request-id': 'x\n{"level":60}' });
    const id = http.genReqId(hostile, response);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf(hostile)).toBe(id);
    expect(http.genReqId(request({ 'x-request-id': 'a'.repeat(200) }), response)).not.toBe('a'.repeat(200));
  });

  it('does not access-log /health and /metrics, and logs failures louder', () => {
    expect(http.autoLogging.ignore(Object.assign(request({}, '/'), { originalUrl: '/health' }))).toBe(true);
    expect(http.autoLogging.ignore(request({}, '/metrics?x=1'))).toBe(true);
    expect(http.autoLogging.ignore(request({}, '/token'))).toBe(false);
    const status = (statusCode: number) => ({ statusCode }) as ServerResponse;
    expect(http.customLogLevel(request({}), status(200))).toBe('info');
    expect(http.customLogLevel(request({}), status(401))).toBe('warn');
    expect(http.customLogLevel(request({}), status(503))).toBe('error');
    expect(params.forRoutes).toEqual([HealthController]);
  });
});
