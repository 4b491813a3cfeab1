import { describe, it, expect } from '@jest/globals';
import { forwardPathOf, removeDotSegments } from './forward-path.js';

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
    expect(forwardPathOf('/api/x/y?q=../../z', '/api', 'gw')).toBe('/api/x/y?q=../../z');
  });

  it('resolves dot segments that stay under the prefix', () => {
    expect(forwardPathOf('/api/a/../b/./c?x=1', '/api', 'gw')).toBe('/api/b/c?x=1');
  });

  it.each(['/api/../admin', '/api/../../admin', '/api/a/../../admin', '/api/..', '/api/x/../../api2'])(
    'refuses %s, which leaves the prefix',
    (url) => expect(forwardPathOf(url, '/api', 'gw')).toEqual({ refused: expect.stringContaining('leaves') }),
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
    expect(forwardPathOf(url, '/api', 'gw')).toEqual({ refused: expect.stringContaining('encoded') }),
  );

  it.each(['/api/..;/admin', '/api/..;x=1/admin', '/api/.;/x'])(
    'refuses the ;parameter dot segment %s',
    (url) => expect(forwardPathOf(url, '/api', 'gw')).toEqual({ refused: expect.stringContaining('..;') }),
  );

  it('reduces an absolute-form target whose authority is the Host to its path and query', () => {
    expect(forwardPathOf('http://gw:3000/api/v?x=1#frag', '/api', 'GW:3000')).toBe('/api/v?x=1');
  });

  it('refuses an absolute-form target for another authority, or one whose path leaves the prefix', () => {
    expect(forwardPathOf('http://169.254.169.254/api/latest', '/api', 'gw')).toEqual({
      refused: expect.stringContaining('another host'),
    });
    expect(forwardPathOf('http://gw/admin', '/api', 'gw')).toEqual({
      refused: expect.stringContaining('leaves'),
    });
    expect(forwardPathOf('*', '/api', 'gw')).toEqual({ refused: expect.stringContaining('origin-form') });
  });
});
