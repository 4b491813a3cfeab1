import { describe, expect, it } from '@jest/globals';
import { parseAuthorization, parseBasicAuthorization } from './authorization-header.parser.js';
import { V3BadRequestException, V3UnauthorizedException } from '../v3-token.exceptions.js';

const basic = (raw: string) => `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;

function failure(run: () => unknown): { status: number; message: string } {
  try {
    run();
  } catch (error) {
    const exception = error as V3UnauthorizedException;
    const body = exception.getResponse() as { message: string };
    return { status: exception.getStatus(), message: body.message };
  }
  throw new Error('expected the parser to throw');
}

describe('parseAuthorization', () => {
  it('parses Basic id:secret, keeping colons in the secret', () => {
    expect(parseAuthorization(basic('customer_id:se:cr:et'))).toEqual({
      scheme: 'basic',
      id: 'customer_id',
      secret: 'se:cr:et',
    });
  });

  it('accepts the scheme in any case and UTF-8 credentials', () => {
    expect(parseAuthorization(`bAsIc ${Buffer.from('jdö:pässword').toString('base64')}`)).toEqual({
      scheme: 'basic',
      id: 'jdö',
      secret: 'pässword',
    });
  });

  it('parses Bearer tokens', () => {
    expect(parseAuthorization('Bearer eyJhbGciOi.J9-_x~+/=')).toEqual({
      scheme: 'bearer',
      token: 'eyJhbGciOi.J9-_x~+/=',
    });
    // Whatever visible ASCII the issuer's token parser accepts, so every token POST /token hands out opens a route.
    expect(parseAuthorization('Bearer tok:with!chars*')).toEqual({
      scheme: 'bearer',
      token: 'tok:with!chars*',
    });
  });

  it.each([
    ['a missing header', undefined, 401, /Missing Authorization header/],
    ['an empty header', '   ', 401, /Missing Authorization header/],
    ['an unknown scheme', 'Digest abc', 401, /Unsupported authorization scheme/],
    ['Basic without a value', 'Basic', 401, /not valid base64/],
    ['bad base64', 'Basic !!!notbase64', 401, /not valid base64/],
    ['no colon', basic('nocolon'), 401, /no colon/],
    ['an empty id', basic(':secret'), 401, /empty id/],
    ['an empty secret', basic('id:'), 401, /empty secret/],
    ['control characters', basic('id\u0000:secret'), 400, /control characters/],
    ['invalid UTF-8', `Basic ${Buffer.from([0x69, 0x3a, 0xff, 0xfe]).toString('base64')}`, 401, /UTF-8/],
    ['a malformed bearer', 'Bearer a b', 401, /Bearer token is missing or malformed/],
    ['a bearer with a control character', 'Bearer a\u0001b', 401, /Bearer token is missing or malformed/],
    ['a bearer with a non-ASCII character', 'Bearer a\u00e9b', 401, /Bearer token is missing or malformed/],
    ['an oversized header', `Basic ${'A'.repeat(5000)}`, 400, /larger than 4096 bytes/],
  ])('refuses %s with a clear message', (_name, header, status, message) => {
    const result = failure(() => parseAuthorization(header));
    expect(result.status).toBe(status);
    expect(result.message).toMatch(message);
  });

  it('refuses repeated headers', () => {
    expect(failure(() => parseAuthorization(['Basic a', 'Basic b'])).status).toBe(400);
  });

  it('never echoes the secret in an error', () => {
    const result = failure(() => parseAuthorization(basic('id\u0001:TOP-SECRET-VALUE')));
    expect(result.message).not.toContain('TOP-SECRET-VALUE');
  });

  it('refuses an id longer than 256 characters', () => {
    expect(failure(() => parseAuthorization(basic(`${'a'.repeat(257)}:s`))).status).toBe(400);
  });
});

describe('parseBasicAuthorization', () => {
  it('form-url-decodes id and secret at a token endpoint (RFC 6749 §2.3.1)', () => {
    const header = basic(`${encodeURIComponent('my client')}:${encodeURIComponent('p%ss+w:rd')}`);
    expect(parseBasicAuthorization(header, true)).toEqual({ id: 'my client', secret: 'p%ss+w:rd' });
  });

  it('takes credentials literally by default', () => {
    expect(parseBasicAuthorization(basic('a+b:c+d'))).toEqual({ id: 'a+b', secret: 'c+d' });
  });

  it('refuses a Bearer header where client credentials are expected', () => {
    expect(() => parseBasicAuthorization('Bearer abc')).toThrow(V3UnauthorizedException);
  });

  it('refuses malformed percent-encoding', () => {
    expect(() => parseBasicAuthorization(basic('id:%zz'), true)).toThrow(V3BadRequestException);
  });
});
