import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProxyTracer, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenFingerprinter } from '../core/token-fingerprint.js';
import { V3TokenService } from '../core/v3-token.service.js';
import { V3TokenClient } from '../issuer/v3-token.client.js';
import { resolveV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import { registeredTracer, TokenSpans } from './token-spans.js';

const CALLER = `Basic ${Buffer.from('alpha:alpha-secret').toString('base64')}`;

/** A stand-in token endpoint answering every grant with a fresh token. */
function startIssuer(): Promise<{ server: Server; tokenUrl: string }> {
  let issued = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      issued += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ access_token: `token-${issued}`, token_type: 'Bearer', expires_in: 300 }),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, tokenUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` }),
    ),
  );
}

/** The token service as the module builds it: real client, in-memory store, spans decided at construction. */
function tokenService(tokenUrl: string): { service: V3TokenService; client: V3TokenClient } {
  const options = resolveV3TokenAuthOptions({ tokenUrl, store: new MemoryTokenStore() });
  const client = new V3TokenClient({ tokenUrl, retry: { attempts: 1 } });
  const service = new V3TokenService(
    options,
    options.store!,
    client,
    new TokenFingerprinter('unit-test-hmac-key-0123456789abcdef', tokenUrl),
  );
  return { service, client };
}

/** Counts every way a span can be made through the API: tracers handed out, spans started, `TokenSpans.run`. */
function countSpanCalls() {
  const spies = [
    jest.spyOn(trace, 'getTracer'),
    jest.spyOn(ProxyTracer.prototype, 'startSpan'),
    jest.spyOn(ProxyTracer.prototype, 'startActiveSpan'),
    jest.spyOn(TokenSpans.prototype, 'run'),
  ];
  return () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
}

describe('tracing in the token module', () => {
  let issuer: { server: Server; tokenUrl: string };
  beforeAll(async () => {
    issuer = await startIssuer();
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        issuer.server.closeAllConnections();
        issuer.server.close(() => resolve());
      }),
  );
  afterEach(() => {
    jest.restoreAllMocks();
    trace.disable();
  });

  it('makes no span object at all, cold or warm, while no SDK is registered', async () => {
    expect(registeredTracer('any')).toBeUndefined();
    const spanCalls = countSpanCalls();
    const { service, client } = tokenService(issuer.tokenUrl);
    try {
      const first = await service.authenticate(CALLER);
      for (let i = 0; i < 50; i++) {
        expect(service.peek(CALLER)).toBe(first);
        expect(await service.authenticate(CALLER)).toBe(first);
      }
      expect(spanCalls()).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('records the grant and store operations once an SDK is registered, and still nothing on the warm path', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    expect(registeredTracer('any')).toBeDefined();
    const { service, client } = tokenService(issuer.tokenUrl);
    try {
      const first = await service.authenticate(CALLER);
      const cold = exporter.getFinishedSpans().map((span) => span.name);
      expect(cold).toEqual(
        expect.arrayContaining(['v3_token.grant', 'v3_token.store.get', 'v3_token.store.set']),
      );
      for (let i = 0; i < 50; i++) expect(service.peek(CALLER)).toBe(first);
      expect(exporter.getFinishedSpans()).toHaveLength(cold.length);
    } finally {
      await client.close();
    }
  });
});
