import { describe, it, expect } from '@jest/globals';
import { setCallerHeaders, toDownstreamHeaders, type CookiePolicy } from './proxy-headers.js';

/** The headers `setCallerHeaders` sets, in the order it sets them. */
function callerHeaders(
  downstream: Parameters<typeof setCallerHeaders>[1],
  cookies?: CookiePolicy,
): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  setCallerHeaders({ setHeader: (name, value) => (set[name] = value) }, downstream, cookies);
  return set;
}

describe('toDownstreamHeaders', () => {
  const from = {
    remoteAddress: '10.0.0.7',
    fromTrustedProxy: false,
    callerAddress: '10.0.0.7',
    protocol: 'https',
    host: 'api.example',
    requestId: 'req-1',
  };
  const fromProxy = { ...from, fromTrustedProxy: true, callerAddress: '203.0.113.9' };

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
      forwarded: 'for=10.0.0.7;proto=https;host="api.example"',
      'x-real-ip': '10.0.0.7',
      'x-request-id': 'req-1',
    });
    expect(incoming.authorization).toBe('Basic c3ZjOnNlY3JldA==');
  });

  const forged = {
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'gopher',
    'x-forwarded-port': '1',
    'x-forwarded-prefix': '/admin',
    'x-real-ip': '198.51.100.1',
    'x-original-url': '/admin',
    'x-rewrite-url': '/admin',
    forwarded: 'for=198.51.100.1;host=evil.example',
    'x-request-id': 'forged',
  };

  it('replaces every forwarding header of a caller that is not a trusted proxy with what the gateway saw', () => {
    const headers = toDownstreamHeaders(forged, 't', from);
    expect(headers['x-forwarded-for']).toBe('10.0.0.7');
    expect(headers['x-forwarded-host']).toBe('api.example');
    expect(headers['x-forwarded-proto']).toBe('https');
    expect(headers['x-real-ip']).toBe('10.0.0.7');
    expect(headers['x-request-id']).toBe('req-1');
    expect(headers.forwarded).toBe('for=10.0.0.7;proto=https;host="api.example"');
    for (const dropped of ['x-forwarded-port', 'x-forwarded-prefix', 'x-original-url', 'x-rewrite-url'])
      expect(headers[dropped]).toBeUndefined();
  });

  it('appends the peer to the chain of a trusted proxy and keeps its forwarding headers, never the URL overrides', () => {
    const headers = toDownstreamHeaders(forged, 't', fromProxy);
    expect(headers['x-forwarded-for']).toBe('203.0.113.9, 10.0.0.7');
    expect(headers.forwarded).toBe('for=198.51.100.1;host=evil.example, for=10.0.0.7');
    expect(headers['x-forwarded-host']).toBe('evil.example');
    expect(headers['x-forwarded-proto']).toBe('gopher');
    expect(headers['x-forwarded-port']).toBe('1');
    expect(headers['x-forwarded-prefix']).toBe('/admin');
    expect(headers['x-real-ip']).toBe('203.0.113.9');
    expect(headers['x-original-url']).toBeUndefined();
    expect(headers['x-rewrite-url']).toBeUndefined();
  });

  it('drops the other names of the forwarding headers from a caller, passes a trusted proxy’s, and drops identity headers from both', () => {
    const spoofed = {
      'true-client-ip': '198.51.100.66',
      'cf-connecting-ip': '198.51.100.66',
      'x-forwarded-scheme': 'https',
      'front-end-https': 'on',
      'x-original-host': 'admin.internal',
      'x-envoy-original-path': '/admin',
      'x-forwarded-user': 'admin',
      'remote-user': 'admin',
      'x-auth-request-email': 'admin@example.com',
      accept: 'application/json',
    };
    const fromCaller = toDownstreamHeaders(spoofed, 't', from);
    expect(Object.keys(fromCaller).filter((name) => name in spoofed)).toEqual(['accept']);
    const viaProxy = toDownstreamHeaders(spoofed, 't', fromProxy);
    expect(viaProxy['true-client-ip']).toBe('198.51.100.66');
    expect(viaProxy['x-forwarded-scheme']).toBe('https');
    for (const identity of ['x-forwarded-user', 'remote-user', 'x-auth-request-email'])
      expect(viaProxy[identity]).toBeUndefined();
  });

  it('drops the underscore spelling of every header it drops, which CGI-style servers read as the dashed one', () => {
    const headers = toDownstreamHeaders(
      {
        x_forwarded_for: '198.51.100.66',
        x_real_ip: '198.51.100.66',
        x_original_url: '/admin',
        x_http_method_override: 'DELETE',
        x_forwarded_user: 'admin',
        proxy_authorization: 'Basic eA==',
        x_custom_thing: 'kept',
      },
      't',
      from,
    );
    expect(headers['x_custom_thing']).toBe('kept');
    for (const name of Object.keys(headers))
      expect(name === 'x_custom_thing' || !name.includes('_')).toBe(true);
    expect(headers['x-real-ip']).toBe('10.0.0.7');
  });

  it('writes an IPv6 peer as a quoted, bracketed node and escapes the host as a quoted-string', () => {
    const headers = toDownstreamHeaders({}, 't', { ...from, remoteAddress: '2001:db8::1', host: 'a"b\\c' });
    expect(headers.forwarded).toBe('for="[2001:db8::1]";proto=https;host="a\\"b\\\\c"');
  });

  it('strips cookies in both directions under the strip policy and passes them under forward', () => {
    expect(toDownstreamHeaders({ cookie: 'sid=1' }, 't', from, 'strip').cookie).toBeUndefined();
    expect(toDownstreamHeaders({ cookie: 'sid=1' }, 't', from, 'forward').cookie).toBe('sid=1');
    expect(callerHeaders({ 'set-cookie': ['a=1'], etag: '"1"' }, 'strip')).toEqual({ etag: '"1"' });
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

describe('setCallerHeaders', () => {
  it('sets end-to-end response headers, repeated ones included, and drops hop-by-hop and absent ones', () => {
    expect(
      callerHeaders({
        'x-absent': undefined,
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

  it('keeps the gateway’s own request id on the answer, whatever id the downstream answers with', () => {
    expect(callerHeaders({ 'x-request-id': 'downstream-id', etag: '"1"' })).toEqual({ etag: '"1"' });
    expect(callerHeaders({ 'x-request-id': 'downstream-id', 'set-cookie': 'a=1' }, 'strip')).toEqual({});
  });
});
