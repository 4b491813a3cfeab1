import { describe, it, expect } from '@jest/globals';
import { pinoHttp, type Options } from 'pino-http';
import { parseGatewayConfig } from '../config/gateway.config.js';
import { gatewayLoggerParams } from './logger.options.js';

const config = parseGatewayConfig({
  GATEWAY_ROUTES: '/v3=http://p:1',
  LOG_LEVEL: 'debug',
  NODE_ENV: 'production',
  V3_TOKEN_URL: 'https://issuer.example/token',
});

const params = gatewayLoggerParams(config);
const options = params.pinoHttp as Options;

/** The root logger nestjs-pino builds from the options (`pinoHttp(options).logger`), writing to `lines`. */
function rootLogger(lines: string[]) {
  return pinoHttp({ ...options, level: 'trace' }, { write: (line: string) => lines.push(line) }).logger;
}

describe('gatewayLoggerParams', () => {
  it('mounts no HTTP middleware: no pino-http, no bind-logger, no AsyncLocalStorage context per request', () => {
    // An explicit empty list: nestjs-pino mounts on every route when forRoutes is left out (logging.e2e-spec.ts
    // checks that the gateway ends up with no middleware at all).
    expect(params.forRoutes).toEqual([]);
    expect(params.exclude).toBeUndefined();
    expect(params.useExisting).toBeUndefined();
  });

  it('censors credentials and tokens at any level', () => {
    const lines: string[] = [];
    const logger = rootLogger(lines);
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
    expect(options.level).toBe('debug');
    expect(options.transport).toBeUndefined();
    const lines: string[] = [];
    const logger = pinoHttp(options, { write: (line: string) => lines.push(line) }).logger;
    logger.trace('hidden');
    logger.debug('shown');
    expect(lines.map((line) => JSON.parse(line) as { level: number; msg: string })).toEqual([
      expect.objectContaining({ level: 20, msg: 'shown' }),
    ]);
    const development = gatewayLoggerParams({ ...config, nodeEnv: 'development' }).pinoHttp as Options;
    expect(development.transport).toMatchObject({ target: 'pino-pretty' });
  });

  it('writes req and res objects as given (no pino-http serializers) and still serializes errors', () => {
    const lines: string[] = [];
    const logger = rootLogger(lines);
    logger.info({ req: { method: 'POST', url: '/token' }, res: { statusCode: 201 } }, 'request completed');
    logger.error({ err: new Error('boom') }, 'request failed');
    const [access, failure] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(access).toMatchObject({ req: { method: 'POST', url: '/token' }, res: { statusCode: 201 } });
    expect(failure).toMatchObject({ err: { type: 'Error', message: 'boom', stack: expect.any(String) } });
  });
});
