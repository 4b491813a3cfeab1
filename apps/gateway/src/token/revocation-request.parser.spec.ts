import { describe, expect, it } from '@jest/globals';
import { V3BadRequestException, V3UnauthorizedException } from 'nestjs-v3-token-auth';
import { parseRevocationRequest } from './revocation-request.parser.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('parseRevocationRequest', () => {
  it('reads the token, its hint and client credentials from a Basic header or the body', () => {
    expect(
      parseRevocationRequest({ token: 't', token_type_hint: 'access_token' }, basic('svc', 's3')),
    ).toEqual({
      token: 't',
      tokenTypeHint: 'access_token',
      client: { clientId: 'svc', clientSecret: 's3' },
    });
    expect(parseRevocationRequest({ token: 't', client_id: 'svc', client_secret: 's3' }, undefined)).toEqual({
      token: 't',
      client: { clientId: 'svc', clientSecret: 's3' },
    });
  });

  it('is 401 invalid_client without client credentials', () => {
    for (const body of [
      { token: 't' },
      { token: 't', client_id: 'svc' },
      { token: 't', client_secret: 's3' },
    ]) {
      expect(() => parseRevocationRequest(body, undefined)).toThrow(V3UnauthorizedException);
    }
  });

  it('is 400 for a missing token, repeated fields, a non-object body or disagreeing credentials, naming no value', () => {
    const cases: [unknown, string | undefined][] = [
      [{}, undefined],
      [{ token: '' }, undefined],
      [{ token: ['a', 'b'] }, undefined],
      [{ token: 't', client_id: ['a', 'b'] }, undefined],
      ['token=t', undefined],
      [{ token: 't', client_id: 'other', client_secret: 'hidden-secret' }, basic('svc', 's3')],
    ];
    for (const [body, authorization] of cases) {
      let thrown: unknown;
      try {
        parseRevocationRequest(body, authorization);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(V3BadRequestException);
      expect(JSON.stringify((thrown as V3BadRequestException).getResponse())).not.toContain('hidden-secret');
    }
  });
});
