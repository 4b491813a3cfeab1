import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProxyTracer, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V3Principal } from 'nestjs-v3-token-auth';
import type { ProxyAuthenticator } from '../proxy/proxied-route.js';
import { ProxyDataPlane } from '../proxy/proxy-data-plane.js';
import { ProxyTracing } from './proxy-tracing.js';

const PRINCIPAL: V3Principal = {
  clientId: 'c',
  accessToken: 'at',
  tokenType: 'Bearer',
  expiresAt: Date.now() + 60_000,
};

/** An authenticator on its warm path: synchronous, always the same principal. */
const warmAuthenticator: ProxyAuthenticator = {
  authenticate(exchange) {
    exchange.user = PRINCIPAL;
    return true;
  },
  refused: () => Promise.resolve(),
  reauthenticate: () => Promise.resolve(PRINCIPAL),
};

const silent = { warn: () => {}, error: () => {} };

describe('ProxyTracing in the proxy', () => {
  let downstream: Server;
  let target: string;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    downstream = createServer((request, response) => {
      seen.push(request.headers);
      request.resume();
      response.end('ok');
    });
    downstream.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
    target = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        downstream.closeAllConnections();
        downstream.close(() => resolve());
      }),
  );
  afterEach(() => {
    jest.restoreAllMocks();
    trace.disable();
    propagation.disable();
    seen.length = 0;
  });

  /** Sends `count` requests through a proxy built now (so with the SDK registered or not at this moment). */
  async function proxyRequests(count: number): Promise<void> {
    const proxy = new ProxyDataPlane({
      routes: [{ prefix: '/api', target, scopes: [], public: false }],
      upstreamTimeoutMs: 5_000,
      auth: warmAuthenticator,
      logger: silent,
    });
    const app = createServer((request, response) => {
      if (!proxy.serve(request, response)) response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const { port } = app.address() as AddressInfo;
    try {
      for (let i = 0; i < count; i++) {
        const answer = await fetch(`http://127.0.0.1:${port}/api/${i}`);
        expect(answer.status).toBe(200);
        await answer.text();
      }
    } finally {
      app.closeAllConnections();
      await new Promise<void>((resolve) => app.close(() => resolve()));
      await proxy.close();
    }
  }

  it('starts no span and touches no tracer on the warm path while no SDK is registered', async () => {
    const spies = [
      jest.spyOn(trace, 'getTracer'),
      jest.spyOn(ProxyTracer.prototype, 'startSpan'),
      jest.spyOn(ProxyTracer.prototype, 'startActiveSpan'),
      jest.spyOn(ProxyTracing.prototype, 'startRequest'),
      jest.spyOn(ProxyTracing.prototype, 'startCall'),
      jest.spyOn(ProxyTracing.prototype, 'within'),
    ];
    await proxyRequests(20);
    expect(seen).toHaveLength(20);
    expect(spies.map((spy) => spy.mock.calls.length)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(seen.every((headers) => headers.traceparent === undefined)).toBe(true);
  });

  it('records a SERVER and a CLIENT span per request, and sends the CLIENT span as traceparent, once one is', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    await proxyRequests(3);
    const clientSpans = exporter.getFinishedSpans().filter((span) => span.name === 'GET');
    const serverSpans = exporter.getFinishedSpans().filter((span) => span.name === 'GET /api');
    expect(clientSpans).toHaveLength(3);
    expect(serverSpans).toHaveLength(3);
    expect(seen.map((headers) => headers.traceparent)).toEqual(
      clientSpans.map((span) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`),
    );
  });
});
