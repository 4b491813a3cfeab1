import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import { V3TokenAuthGuard, V3TokenService } from 'nestjs-v3-token-auth';
import { GATEWAY_CONFIG, gatewayConfigModule, type GatewayConfig } from './config/gateway.config.js';
import { GatewayModule } from './gateway.module.js';
import { logAccess } from './logging/access-log.js';
import { REQUEST_ID_HEADER, requestIdOf } from './logging/request-id.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { gatewayProxy } from './proxy/gateway-proxy.plugin.js';
import { guardAuthenticator } from './proxy/guard-authenticator.js';

/** While shutting down, how often connections that finished their last request are ended, ms. */
const DRAIN_POLL_MS = 50;

/**
 * Builds the gateway (not listening yet). Without `config` the environment is validated (`GatewayConfigError` on a
 * bad value, before Nest starts); with one — tests, benchmarks — the environment is not read at all.
 * @example
 * const app = await createGatewayApp(parseGatewayConfig({ GATEWAY_ROUTES: '/v3=http://127.0.0.1:8080' }));
 * await app.listen(0, '127.0.0.1');
 */
export async function createGatewayApp(config?: GatewayConfig): Promise<NestFastifyApplication> {
  const configModule = await gatewayConfigModule(config);
  const adapter = new FastifyAdapter({ genReqId: requestIdOf, return503OnClosing: true, skipMiddie: true });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(configModule), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  const accessLogger = await app.resolve(PinoLogger);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    logAccess(accessLogger, request, reply);
    done();
  });
  fastify.addHook('preClose', (done) => {
    // Closing stops new connections and ends idle ones; a keep-alive connection whose request was in flight goes
    // idle later and would hold shutdown open until its client leaves, so idle connections keep being ended.
    const server = fastify.server;
    const reaper = setInterval(() => server.closeIdleConnections(), DRAIN_POLL_MS).unref();
    server.once('close', () => clearInterval(reaper));
    done();
  });

  const resolved = app.get(ConfigService).getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
  const metrics = app.get(GatewayMetrics);
  const logger = await app.resolve(PinoLogger);
  logger.setContext('GatewayProxy');
  await app.register(gatewayProxy, {
    routes: resolved.routes,
    upstreamTimeoutMs: resolved.upstreamTimeoutMs,
    auth: guardAuthenticator(app.get(V3TokenAuthGuard), app.get(V3TokenService)),
    logger,
    observe: (route, method, status, seconds) => metrics.observeProxy(route, method, status, seconds),
  });
  return app;
}
