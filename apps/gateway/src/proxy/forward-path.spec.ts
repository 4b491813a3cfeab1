import { describe, it, expect } from '@jest/globals';
import { absoluteFormOf, forwardPathOf, lenientPathOf, removeDotSegments } from './forward-path.js';
import { RoutePrefixes } from './route-prefixes.js';

const API = new RoutePrefixes(['/api']);

describe('removeDotSegments (RFC 3986 §5.2.4)', () => {
  it.each([
    ['/a/b/c/./../../g', '/a/g'],
    ['/mid/content=5/../6', '/mid/6'],
    ['/a/..', '/'],
    ['/a/.', '/a/'],
    ['/../../x', '/x'],
    ['/a//b/../c', '/a//c'],
  ])('%s → %s', (input, output) => expect(removeDotSegments(input)).toBe(output));
});

describe('forwardPathOf', () => {
  it('passes a plain path and its query unchanged', () => {
    expect(forwardPathOf('/api/x/y?q=../../z', '/api', 'gw', API)).toBe('/api/x/y?q=../../z');
  });

  it('resolves dot segments that stay under the prefix', () => {
    expect(forwardPathOf('/api/a/../b/./c?x=1', '/api', 'gw', API)).toBe('/api/b/c?x=1');
  });

  it.each(['/api/../admin', '/api/../../admin', '/api/a/../../admin', '/api/..', '/api/x/../../api2'])(
    'refuses %s, which leaves the prefix',
    (url) =>
      expect(forwardPathOf(url, '/api', 'gw', API)).toEqual({ refused: expect.stringContaining('leaves') }),
  );

  it.each([
    '/api/%2e%2e/admin',
    '/api/.%2E/admin',
    '/api/%2E./x',
    '/api/..%2fadmin',
    '/api/..%5cadmin',
    '/api/..\\admin',
    '/api/a%2Fb',
  ])('refuses the encoded or backslash form %s', (url) =>
    expect(forwardPathOf(url, '/api', 'gw', API)).toEqual({ refused: expect.stringContaining('encoded') }),
  );

  it.each(['/api/..;/admin', '/api/..;x=1/admin', '/api/.;/x'])(
    'refuses the ;parameter dot segment %s',
    (url) =>
      expect(forwardPathOf(url, '/api', 'gw', API)).toEqual({ refused: expect.stringContaining('..;') }),
  );

  it('reduces an absolute-form target whose authority is the Host to its path and query', () => {
    expect(forwardPathOf('http://gw:3000/api/v?x=1', '/api', 'GW:3000', API)).toBe('/api/v?x=1');
  });

  it('refuses an absolute-form target for another authority, or one whose path leaves the prefix', () => {
    expect(forwardPathOf('http://169.254.169.254/api/latest', '/api', 'gw', API)).toEqual({
      refused: expect.stringContaining('another host'),
    });
    expect(forwardPathOf('http://gw/admin', '/api', 'gw', API)).toEqual({
      refused: expect.stringContaining('leaves'),
    });
    expect(forwardPathOf('*', '/api', 'gw', API)).toEqual({
      refused: expect.stringContaining('origin-form'),
    });
  });

  it.each(['/api/..#', '/api/x/..#/y', '/api/x#frag', '/api/x?q#f', 'http://gw/api/x#f'])(
    'refuses the fragment in %s (a downstream that cuts it off first reads /api/..# as /)',
    (url) =>
      expect(forwardPathOf(url, '/api', 'gw', API)).toEqual({ refused: expect.stringContaining('fragment') }),
  );

  it.each(['/api/%zz', '/api/%u002e%u002e/x', '/api/%c0%ae%c0%ae/x', '/api/%e2%82', '/api/x%'])(
    'refuses the malformed percent-encoding of %s',
    (url) =>
      expect(forwardPathOf(url, '/api', 'gw', API)).toEqual({
        refused: expect.stringContaining('malformed'),
      }),
  );

  it.each([
    ['/api/x%00/y', 'NUL'],
    ['/orders/admin%00/x', 'NUL'],
    ['/api/%252e%252e/x', 'twice'],
    ['/api/a%252fb', 'twice'],
    ['/api/a%255Cb', 'twice'],
    ['/api/a%2500', 'twice'],
  ])('refuses %s: an encoded NUL or a percent sign encoded before a separator', (url, why) =>
    expect(forwardPathOf(url, '/api', 'gw', API)).toEqual({ refused: expect.stringContaining(why) }),
  );

  it('passes well-formed percent-encoding, empty segments and ;parameters that stay on the route', () => {
    expect(forwardPathOf('/api/100%25/x', '/api', 'gw', API)).toBe('/api/100%25/x');
    expect(forwardPathOf('/api/%2541', '/api', 'gw', API)).toBe('/api/%2541');
    expect(forwardPathOf('/api/caf%C3%A9/a%20b', '/api', 'gw', API)).toBe('/api/caf%C3%A9/a%20b');
    expect(forwardPathOf('/api//x;v=1', '/api', 'gw', API)).toBe('/api//x;v=1');
  });
});

describe('forwardPathOf with a route nested under another (/orders, /orders/admin)', () => {
  const NESTED = new RoutePrefixes(['/orders', '/orders/admin']);

  it.each([
    '/orders/./admin/users',
    '/orders/x/../admin/users',
    '/orders//admin/users',
    '/orders/admin;x/users',
    '/orders/%61dmin/users',
    '/orders/ADMIN/users',
    '/orders/Admin',
    '/orders/admin./x',
    '/orders/admin%20/x',
    '/orders/admin.%20./x',
    '/orders/%EF%BC%A1dmin/x',
  ])('refuses %s on /orders: it reads as /orders/admin', (url) =>
    expect(forwardPathOf(url, '/orders', 'gw', NESTED)).toEqual({
      refused: expect.stringMatching(/leaves|another route/),
    }),
  );

  it('forwards what stays on the route it was routed to', () => {
    expect(forwardPathOf('/orders/items/./1', '/orders', 'gw', NESTED)).toBe('/orders/items/1');
    expect(forwardPathOf('/orders/administrators', '/orders', 'gw', NESTED)).toBe('/orders/administrators');
    expect(forwardPathOf('/orders/admin/users', '/orders/admin', 'gw', NESTED)).toBe('/orders/admin/users');
    expect(forwardPathOf('/orders/admin/../admin/x', '/orders/admin', 'gw', NESTED)).toBe('/orders/admin/x');
  });

  it('refuses a path routed to the nested route that dot segments move to the outer one', () => {
    expect(forwardPathOf('/orders/admin/../items', '/orders/admin', 'gw', NESTED)).toEqual({
      refused: expect.stringContaining('leaves'),
    });
  });
});

describe('lenientPathOf and absoluteFormOf', () => {
  it.each([
    ['/a//b;x=1/./c/../D', '/a/b/d'],
    ['/a/%62', '/a/b'],
    ['/a/..;/b', '/b'],
  ])('reads %s as %s', (input, output) => expect(lenientPathOf(input)).toBe(output));

  it('splits an absolute-form target into authority and path, dropping the fragment', () => {
    expect(absoluteFormOf('HTTP://gw:3000/api/v?x=1#frag')).toEqual({
      authority: 'gw:3000',
      path: '/api/v?x=1',
    });
    expect(absoluteFormOf('http://gw?a=/api/x')).toEqual({ authority: 'gw', path: '/?a=/api/x' });
    expect(absoluteFormOf('http://gw')).toEqual({ authority: 'gw', path: '/' });
    expect(absoluteFormOf('gopher://gw/api')).toBeUndefined();
  });
});
