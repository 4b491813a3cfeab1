import { describe, it, expect } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { forwardedHeaders, startAnswer, upstreamPool } from './undici-relay.js';

describe('undici-relay (the bench proxies’ shared relay)', () => {
  it('forwards end-to-end request headers, never hop-by-hop ones or Host', () => {
    expect(
      forwardedHeaders({
        host: 'proxy:1',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        authorization: 'Basic abc',
        accept: 'application/json',
        'x-many': ['a', 'b'],
      }),
    ).toEqual({ authorization: 'Basic abc', accept: 'application/json', 'x-many': ['a', 'b'] });
  });

  it('starts the answer with the downstream status and end-to-end headers, and writes into the response', () => {
    const set: Record<string, unknown> = {};
    const response = {
      statusCode: 200,
      setHeader: (name: string, value: unknown) => (set[name] = value),
    } as unknown as ServerResponse;
    const answer: Dispatcher.StreamFactoryData<ServerResponse> = {
      statusCode: 404,
      headers: { 'content-type': 'application/json', connection: 'keep-alive', 'keep-alive': 'timeout=30' },
      opaque: response,
      context: {},
    };
    const written = startAnswer(answer);
    expect(written).toBe(response);
    expect(response.statusCode).toBe(404);
    expect(set).toEqual({ 'content-type': 'application/json' });
  });

  it('refuses to start without a downstream URL', () => {
    expect(() => upstreamPool('')).toThrow('BENCH_UPSTREAM');
  });
});
