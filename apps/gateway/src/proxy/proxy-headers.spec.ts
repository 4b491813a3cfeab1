import { describe, it, expect } from '@jest/globals';
import { dropHopByHop, toDownstreamHeaders } from './proxy-headers.js';

describe('toDownstreamHeaders', () => {
  const from = { remoteAddress: '10.0.0.7', protocol: 'https', host: 'api.example', requestId: 'req-1' };

  it('replaces Authorization with the bearer token and drops hop-by-hop and proxy credentials', () => {
    const headers = toDownstreamHeaders(
      {
        authorization: 'Basic c3ZjOnNlY3JldA==',
        'proxy-authorization': 'Basic eDp5',
        te: 'trailers',
        upgrade: 'websocket',
        'keep-alive': 'timeout=5',
        accept: 'application/json',
      },
      'tok-123',
      from,
    );
    expect(headers).toEqual({
      authorization: 'Bearer tok-123',
      accept: 'application/json',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example',
      'x-request-id': 'req-1',
    });
  });

  it('appends the caller to an existing X-Forwarded-For chain', () => {
    const headers = toDownstreamHeaders({ 'x-forwarded-for': '203.0.113.9' }, 't', from);
    expect(headers['x-forwarded-for']).toBe('203.0.113.9, 10.0.0.7');
  });
});

describe('dropHopByHop', () => {
  it('removes hop-by-hop response headers and keeps the rest', () => {
    expect(
      dropHopByHop({
        connection: 'keep-alive',
        'transfer-encoding': 'chunked',
        'proxy-authenticate': 'Basic',
        etag: '"1"',
      }),
    ).toEqual({ etag: '"1"' });
  });
});
