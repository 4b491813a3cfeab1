import { describe, it, expect } from '@jest/globals';
import { V3BadRequestException, V3UnauthorizedException } from 'nestjs-v3-token-auth';
import { parseTokenRequest } from './token-request.parser.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('parseTokenRequest', () => {
  it('reads a form or JSON body and drops empty and unknown fields', () => {
    expect(
      parseTokenRequest(
        {
          grant_type: 'password',
          client_id: 'app',
          client_secret: '',
          username: 'jdoe',
          password: 'pw',
          extra: 'x',
        },
        undefined,
      ),
    ).toEqual({ grant_type: 'password', client_id: 'app', username: 'jdoe', password: 'pw' });
  });

  it('keeps the scope and the RFC 8707 resource the caller asks for', () => {
    expect(
      parseTokenRequest(
        {
          grant_type: 'client_credentials',
          client_id: 'svc',
          client_secret: 's',
          scope: 'orders:read',
          resource: 'https://orders.example',
        },
        undefined,
      ),
    ).toEqual({
      grant_type: 'client_credentials',
      client_id: 'svc',
      client_secret: 's',
      scope: 'orders:read',
      resource: 'https://orders.example',
    });
  });

  it('takes client credentials from a form-url-encoded Basic header (RFC 6749 §2.3.1)', () => {
    const header = basic(encodeURIComponent('svc id'), encodeURIComponent('p:ss%word'));
    expect(parseTokenRequest({ grant_type: 'client_credentials' }, header)).toEqual({
      grant_type: 'client_credentials',
      client_id: 'svc id',
      client_secret: 'p:ss%word',
    });
  });

  it('accepts the same credentials in both places and refuses differing ones', () => {
    const body = { grant_type: 'client_credentials', client_id: 'svc', client_secret: 'one' };
    expect(parseTokenRequest(body, basic('svc', 'one')).client_secret).toBe('one');
    expect(() => parseTokenRequest(body, basic('svc', 'two'))).toThrow(V3BadRequestException);
    expect(() => parseTokenRequest(body, basic('other', 'one'))).toThrow(/differ: use one method/);
  });

  it('refuses malformed bodies with invalid_request, naming the parameter but never its value', () => {
    const cases: unknown[] = [
      undefined,
      'grant_type=client_credentials',
      [],
      {},
      { grant_type: '' },
      { grant_type: 'client_credentials', client_id: ['a', 'b'] },
      { grant_type: 'client_credentials', client_secret: 'x'.repeat(5000) },
      { grant_type: 'client_credentials', client_secret: 42 },
    ];
    for (const body of cases) {
      let thrown: unknown;
      try {
        parseTokenRequest(body, undefined);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(V3BadRequestException);
      expect((thrown as V3BadRequestException).oauthError).toBe('invalid_request');
      expect((thrown as Error).message).not.toContain('xxxx');
    }
    expect(() =>
      parseTokenRequest({ grant_type: 'client_credentials', client_id: ['a', 'b'] }, undefined),
    ).toThrow(/^client_id must be a single string value/);
  });

  it('refuses a non-Basic Authorization header as invalid client authentication', () => {
    expect(() => parseTokenRequest({ grant_type: 'client_credentials' }, 'Bearer abc')).toThrow(
      V3UnauthorizedException,
    );
    expect(() => parseTokenRequest({ grant_type: 'client_credentials' }, ['a', 'b'])).toThrow(
      V3BadRequestException,
    );
  });
});
