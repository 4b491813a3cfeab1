import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import { systemClock, V3TokenAuthGuard, V3TokenService } from 'nestjs-v3-token-auth';
import {
  GATEWAY_CONFIG,
  gatewayConfigModule,
  parseGatewayConfig,
  type GatewayConfig,
} from './config/gateway.config.js';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { adminListener, isAdminRoute, listenOn, refuseConnect } from './admin/admin-listener.js';
import { GatewayModule } from './gateway.module.js';
import { CallerConnections } from './lifecycle/caller-connections.js';
import { answerClientError } from './errors/client-error.js';
import { answerExpectationFailed, answerHeadProblem } from './errors/listener-answers.js';
import { AccessLog } from './logging/access-log.js';
import { REQUEST_ID_HEADER, requestIdOf } from './logging/request-id.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { ProxyDataPlane } from './proxy/proxy-data-plane.js';
import { guardAuthenticator } from './proxy/guard-authenticator.js';
import { headProblemOf } from './proxy/request-head.js';

/** One access line per caller address and 4xx status per this window, the repeats counted (see `AccessLog`), ms. */
const ACCESS_REPEAT_WINDOW_MS = 60_000;

/** While shutting down, how often connections with no answer in progress are ended, ms. */
const DRAIN_POLL_MS = 50;

/** How often Node checks connections for the headers and request timeouts: a tenth of the shorter one, 50–1000 ms. */
function connectionsCheckingInterval(config: GatewayConfig): number {
  const shortest = Math.min(config.edge.headersTimeoutMs, config.edge.requestTimeoutMs);
  return Math.max(50, Math.min(1000, Math.floor(shortest / 10)));
}

const NOT_ON_THIS_LISTENER = {
  statusCode: 404,
  error: 'Not Found',
  message: 'Not found on this port: /health and /metrics are served on GATEWAY_ADMIN_PORT only',
};

/**
 * The main listener: the data plane serves the route prefixes, the app's router (Fastify) everything else whose head
 * is sound (`headProblemOf`). It is built before the app, the data plane after it, so requests reach the router until
 * `dataPlane` is set.
 */
function mainServer(
  config: GatewayConfig,
  router: RequestListener,
  dataPlane: () => ProxyDataPlane | undefined,
): Server {
  const { edge } = config;
  /** One request, `awaitsContinue` when its caller waits for `100 Continue` before sending its body. */
  const serve = (request: IncomingMessage, response: ServerResponse, awaitsContinue: boolean): void => {
    if (dataPlane()?.serve(request, response, awaitsContinue) === true) return;
    const problem = headProblemOf(request);
    if (problem !== undefined) {
      answerHeadProblem(request, response, problem);
      return;
    }
    if (awaitsContinue) response.writeContinue();
    router(request, response);
  };
  const server = createServer(
    {
      headersTimeout: edge.headersTimeoutMs,
      requestTimeout: edge.requestTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingInterval(config),
      requireHostHeader: false,
    },
    (request, response) => serve(request, response, false),
  );
  server.keepAliveTimeout = edge.keepAliveTimeoutMs;
  // Node answers an `Expect` other than 100-continue with a bare 417; the gateway's errors are JSON.
  server.on('checkExpectation', answerExpectationFailed);
  // With a listener here Node no longer sends `100 Continue` by itself: a proxied request gets it once authenticated
  // and admitted (a refused caller uploads nothing), everything else right before the router reads its body.
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) =>
    serve(request, response, true),
  );
  return server;
}

/**
 * Builds the gateway (not listening yet: `listenGateway` starts it). Without `config` the environment is validated
 * (`GatewayConfigError` on a bad value, before Nest starts); with one — tests, benchmarks — the environment is not
 * read at all. The route prefixes are served by the data plane on the listener itself, so `app.inject()` (which
 * skips the listener) reaches only Fastify's routes: test proxied routes over a socket.
 * @example
 * const app = await createGatewayApp(parseGatewayConfig({ GATEWAY_ROUTES: '/v3=http://127.0.0.1:8080' }));
 * await app.listen(0, '127.0.0.1');
 */
export async function createGatewayApp(config?: GatewayConfig): Promise<NestFastifyApplication> {
  const gatewayConfig = config ?? parseGatewayConfig(process.env);
  const configModule = await gatewayConfigModule(gatewayConfig);
  const { edge } = gatewayConfig;
  /**
   * The data plane, built once the app is (until then every request reaches the router), and the main listener's
   * caller connections, ended while the app shuts down.
   */
  const front: { dataPlane?: ProxyDataPlane; connections?: CallerConnections } = {};
  const adapter = new FastifyAdapter({
    genReqId: requestIdOf,
    clientErrorHandler: answerClientError,
    return503OnClosing: true,
    skipMiddie: true,
    serverFactory: (router: RequestListener) => {
      const server = mainServer(gatewayConfig, router, () => front.dataPlane);
      front.connections = new CallerConnections(server);
      return server;
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(configModule), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  const accessLogger = await app.resolve(PinoLogger);
  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(GatewayMetrics);
  fastify.server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    metrics.edgeRefused('method', request.socket.remoteAddress ?? '');
    refuseConnect(request, socket);
  });
  // Node reports a request head or whole request past its timeout here; `answerClientError` answers the 408.
  fastify.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
      metrics.edgeRefused('request_timeout', socket.remoteAddress ?? '');
  });
  const adminPort = edge.adminPort;
  if (adminPort !== undefined) {
    const admin = adminListener(fastify);
    ADMIN_SERVERS.set(app, admin);
    fastify.addHook('onClose', (_instance, done) => {
      admin.closeAllConnections();
      if (admin.listening) admin.close(() => done());
      else done();
    });
  }
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (
      adminPort !== undefined &&
      isAdminRoute(request.routeOptions.url) !== (request.raw.socket.localPort === adminPort)
    ) {
      void reply.code(404).type('application/json; charset=utf-8').send(NOT_ON_THIS_LISTENER);
      return;
    }
    done();
  });
  const accessLog = new AccessLog(accessLogger, {
    callerAddress: (request) =>
      edge.trustedProxies.callerAddressOf(request.raw.socket.remoteAddress, request.headers),
    clock: systemClock,
    windowMs: ACCESS_REPEAT_WINDOW_MS,
  });
  const accessFlush = setInterval(() => accessLog.flush(), ACCESS_REPEAT_WINDOW_MS).unref();
  fastify.addHook('onResponse', (request, reply, done) => {
    accessLog.record(request, reply);
    done();
  });
  fastify.addHook('onClose', (_instance, done) => {
    clearInterval(accessFlush);
    accessLog.flush(true);
    done();
  });
  fastify.addHook('preClose', (done) => {
    // Closing stops new connections; a keep-alive connection whose request is in flight goes idle later, and one
    // that has sent nothing or only part of a head would hold shutdown open until its deadline, so connections with
    // no answer in progress keep being ended.
    front.dataPlane?.drain();
    const server = fastify.server;
    const connections = front.connections!;
    connections.endQuiet();
    const reaper = setInterval(() => connections.endQuiet(), DRAIN_POLL_MS).unref();
    server.once('close', () => clearInterval(reaper));
    done();
  });

  const resolved = app.get(ConfigService).getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
  const logger = await app.resolve(PinoLogger);
  logger.setContext('GatewayProxy');
  const proxy = new ProxyDataPlane({
    routes: resolved.routes,
    upstreamTimeoutMs: resolved.upstreamTimeoutMs,
    connections: resolved.edge.upstreamConnections,
    queueTimeoutMs: resolved.edge.queueTimeoutMs,
    maxInflightPerClient: resolved.edge.maxInflightPerClient,
    bodyIdleTimeoutMs: resolved.edge.bodyIdleTimeoutMs,
    trustedProxies: resolved.edge.trustedProxies,
    cookies: resolved.edge.cookies,
    auth: guardAuthenticator(app.get(V3TokenAuthGuard), app.get(V3TokenService)),
    logger: {
      warn: (fields, message) => logger.warn(fields, message),
      error: (fields, message) => logger.error(fields, message),
      tokenUnavailable: (requestId, status, reason) => metrics.tokenUnavailable(requestId, status, reason),
    },
    observe: (route, method, status, seconds) => metrics.observeProxy(route, method, status, seconds),
    refused: (reason, callerAddress) => metrics.edgeRefused(reason, callerAddress),
  });
  fastify.addHook('onClose', (_instance, done) => {
    proxy.close().then(() => done(), done);
  });
  front.dataPlane = proxy;
  return app;
}

/** The admin listener of each app built with `GATEWAY_ADMIN_PORT`, until `listenGateway` starts it. */
const ADMIN_SERVERS = new WeakMap<NestFastifyApplication, Server>();

/** The listeners of a started gateway. */
export interface GatewayListeners {
  /** The data plane (and, without `GATEWAY_ADMIN_PORT`, the admin paths). */
  main: Server;
  /** The admin listener, when `GATEWAY_ADMIN_PORT` is set. */
  admin?: Server;
}

/**
 * Starts listening on `PORT` and, when set, `GATEWAY_ADMIN_PORT` (closed with the app).
 * @example const { main } = await listenGateway(app, config);
 */
export async function listenGateway(
  app: NestFastifyApplication,
  config: GatewayConfig,
): Promise<GatewayListeners> {
  await app.listen(config.port, config.host);
  const fastify = app.getHttpAdapter().getInstance();
  const listeners: GatewayListeners = { main: fastify.server };
  const admin = ADMIN_SERVERS.get(app);
  if (admin !== undefined && config.edge.adminPort !== undefined) {
    await listenOn(admin, config.edge.adminPort, config.host);
    listeners.admin = admin;
  }
  return listeners;
}
