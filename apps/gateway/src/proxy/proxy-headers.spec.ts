import { describe, it, expect } from '@jest/globals';
import { toCallerHeaders, toDownstreamHeaders } from './proxy-headers.js';

describe('toDownstreamHeaders', () => {
  const from = { remoteAddress: '10.0.0.7', protocol: 'https', host: 'api.example', requestId: 'req-1' };

  it('replaces Authorization with the bearer token and drops hop-by-hop headers, proxy credentials and Host', () => {
    const incoming = {
      authorization: 'Basic c3ZjOnNlY3JldA==',
      'proxy-authorization': 'Basic eDp5',
      te: 'trailers',
      upgrade: 'websocket',
      'keep-alive': 'timeout=5',
      connection: 'keep-alive',
      expect: '100-continue',
      'transfer-encoding': 'chunked',
      host: 'api.example',
      accept: 'application/json',
    };
    const headers = toDownstreamHeaders(incoming, 'tok-123', from);
    expect(headers).toEqual({
      authorization: 'Bearer tok-123',
      accept: 'application/json',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example',
      'x-request-id': 'req-1',
    });
    expect(incoming.authorization).toBe('Basic c3ZjOnNlY3JldA==');
  });

  it('appends the caller to an existing X-Forwarded-For chain and replaces forged forwarding headers', () => {
    const headers = toDownstreamHeaders(
      { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'evil.example', 'x-request-id': 'forged' },
      't',
      from,
    );
    expect(headers['x-forwarded-for']).toBe('203.0.113.9, 10.0.0.7');
    expect(headers['x-forwarded-host']).toBe('api.example');
    expect(headers['x-request-id']).toBe('req-1');
  });

  it('drops the headers a Connection header names (RFC 9110 §7.6.1)', () => {
    const headers = toDownstreamHeaders(
      { connection: 'close, X-Hop, keep-alive', 'x-hop': '1', 'x-kept': '2' },
      't',
      from,
    );
    expect(headers['x-hop']).toBeUndefined();
    expect(headers['x-kept']).toBe('2');
  });
});

describe('toCallerHeaders', () => {
  it('keeps end-to-end response headers, repeated ones included, and drops hop-by-hop ones', () => {
    expect(
      toCallerHeaders({
        connection: 'keep-alive, x-internal',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'proxy-authenticate': 'Basic',
        'x-internal': 'secret-route',
        'set-cookie': ['a=1', 'b=2'],
        etag: '"1"',
      }),
    ).toEqual({ etag: '"1"', 'set-cookie': ['a=1', 'b=2'] });
  });
});
