import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  FAULT_HMAC_KEY,
  request,
  startGateway,
  type GatewayInstance,
} from '../../../test/faults/fault-harness.js';
import { startRedisServer, type PrivateRedis } from '../../../test/support/redis-server.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { basic, eventually } from '../../../test/support/v3-token-auth-app.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

const SECRET = 'demo-secret';
const CALLER = basic('demo-client', SECRET);
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

/**
 * Issue 14, tracing: with an OpenTelemetry SDK registered (in-memory exporter), a proxied request is a SERVER span
 * whose children are the grant at a real token endpoint, the operations on a private Redis and the downstream call,
 * and the downstream receives a W3C `traceparent` naming that call's span.
 */
describe('gateway: tracing through @opentelemetry/api', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let echo: EchoServer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    [issuer, redis, echo] = await Promise.all([startTokenServer(), startRedisServer(), startEchoServer()]);
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/v3=${echo.url}`,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
    });
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([issuer?.close(), redis?.stop(), echo?.close()]);
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  beforeEach(() => exporter.reset());

  /** The finished spans of `traceId`, once the request's SERVER span has ended. */
  const spansOf = async (traceId: string): Promise<ReadableSpan[]> => {
    const ofTrace = () =>
      exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    const ended = await eventually(() => ofTrace().some((span) => span.kind === SpanKind.SERVER), 10_000);
    expect(ended).toBe(true);
    return ofTrace();
  };
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const lastTraceparent = (): RegExpExecArray => {
    const header = echo.seen.at(-1)?.headers.traceparent;
    expect(header).toMatch(TRACEPARENT);
    return TRACEPARENT.exec(String(header))!;
  };

  const descendsFrom = (root: ReadableSpan, spans: ReadableSpan[]) => {
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    return (span: ReadableSpan): boolean => {
      for (let parent = parentOf(span); parent !== undefined; parent = parentOf(byId.get(parent)!)) {
        if (parent === root.spanContext().spanId) return true;
        if (!byId.has(parent)) return false;
      }
      return false;
    };
  };

  it('traces a cold request: SERVER span, the grant and store operations under it, and the downstream CLIENT span', async () => {
    const answer = await gateway.get('/v3/orders/1', CALLER);
    expect(answer.status).toBe(200);
    const [, traceId, parentId] = lastTraceparent();
    const spans = await spansOf(traceId);

    const server = spans.find((span) => span.kind === SpanKind.SERVER)!;
    expect(server.name).toBe('GET /v3');
    expect(server.attributes['http.response.status_code']).toBe(200);
    const call = spans.find((span) => span.kind === SpanKind.CLIENT && span.name === 'GET')!;
    expect(call.spanContext().spanId).toBe(parentId);
    expect(parentOf(call)).toBe(server.spanContext().spanId);
    expect(call.attributes['http.response.status_code']).toBe(200);

    const underServer = descendsFrom(server, spans);
    const grant = spans.find((span) => span.name === 'v3_token.grant');
    expect(grant).toBeDefined();
    expect(grant!.kind).toBe(SpanKind.CLIENT);
    expect(grant!.attributes['oauth2.grant_type']).toBe('client_credentials');
    expect(grant!.attributes['http.response.status_code']).toBe(200);
    expect(underServer(grant!)).toBe(true);
    const store = spans.filter((span) => span.name.startsWith('v3_token.store.'));
    expect(store.map((span) => span.name)).toEqual(
      expect.arrayContaining(['v3_token.store.get', 'v3_token.store.set']),
    );
    for (const span of store) expect(underServer(span)).toBe(true);

    const recorded = JSON.stringify(spans.map((span) => [span.name, span.attributes]));
    expect(recorded).not.toContain(SECRET);
    expect(recorded).not.toContain(String(echo.seen.at(-1)?.headers.authorization).slice('Bearer '.length));
  });

  it('traces a warm request without grant or store spans: the token came from the in-process cache', async () => {
    expect((await gateway.get('/v3/orders/2', CALLER)).status).toBe(200);
    const [, traceId] = lastTraceparent();
    const names = (await spansOf(traceId)).map((span) => span.name).sort();
    expect(names).toEqual(['GET', 'GET /v3']);
  });

  it("continues the caller's trace, sending downstream the gateway's own span as parent", async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const answer = await request(`${gateway.url}/v3/continued`, {
      headers: { authorization: CALLER, traceparent: `00-${callerTrace}-${callerSpan}-01` },
    });
    expect(answer.status).toBe(200);
    const [, traceId, parentId] = lastTraceparent();
    expect(traceId).toBe(callerTrace);
    expect(parentId).not.toBe(callerSpan);
    const server = (await spansOf(callerTrace)).find((span) => span.kind === SpanKind.SERVER)!;
    expect(parentOf(server)).toBe(callerSpan);
  });

  it('ends the SERVER span of a refused request as a 401, without a downstream call', async () => {
    const before = echo.seen.length;
    const callerTrace = '0af7651916cd43dd8448eb211c80319c';
    const answer = await request(`${gateway.url}/v3/refused`, {
      headers: { traceparent: `00-${callerTrace}-b7ad6b7169203331-01` },
    });
    expect(answer.status).toBe(401);
    expect(echo.seen.length).toBe(before);
    const spans = await spansOf(callerTrace);
    expect(spans.map((span) => span.kind)).toEqual([SpanKind.SERVER]);
    expect(spans[0].attributes['http.response.status_code']).toBe(401);
  });
});
