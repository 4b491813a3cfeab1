import { describe, expect, it } from '@jest/globals';
import { V3BadRequestException } from '../v3-token.exceptions.js';
import type { V3TokenRequest } from '../v3-token.interfaces.js';
import { parseTokenRequest } from './token-request.parser.js';

const refusal = (request: unknown, defaults = {}): V3BadRequestException => {
  try {
    parseTokenRequest(request as V3TokenRequest, defaults);
  } catch (error) {
    if (error instanceof V3BadRequestException) return error;
    throw error;
  }
  throw new Error('parseTokenRequest accepted the request');
};

describe('parseTokenRequest (the library)', () => {
  it.each([undefined, null, 'grant_type=client_credentials', 42, ['client_credentials']])(
    'answers a body that is not an object (%p) with 400 invalid_request, not a TypeError',
    (body) => {
      const error = refusal(body);
      expect(error.getStatus()).toBe(400);
      expect(error.oauthError).toBe('invalid_request');
      expect(error.message).toMatch(/form .* or a JSON object/);
    },
  );

  it('says grant_type is required without naming an undefined grant type', () => {
    expect(refusal({ client_id: 'svc', client_secret: 's' }).message).toBe('grant_type is required');
    expect(refusal({ grant_type: 'password', client_id: 'app' }).message).toBe(
      'username is required for grant_type password',
    );
  });

  it('reads only the request own fields, not inherited ones', () => {
    const inherited = Object.create({ grant_type: 'client_credentials', client_id: 'svc' }) as V3TokenRequest;
    expect(refusal(inherited).message).toBe('grant_type is required');
  });

  it('answers a missing client_id with 400 invalid_request when there is no client of its own', () => {
    const error = refusal({ grant_type: 'refresh_token', refresh_token: 'rt' });
    expect(error.getStatus()).toBe(400);
    expect(error.oauthError).toBe('invalid_request');
    expect(error.message).toBe('client_id is required: this gateway has no client of its own');
  });

  it('turns a complete request into credentials', () => {
    expect(
      parseTokenRequest(
        { grant_type: 'client_credentials', client_id: 'svc', client_secret: 's', scope: 'b a' },
        {},
      ),
    ).toEqual({
      kind: 'credentials',
      credentials: {
        grantType: 'client_credentials',
        clientId: 'svc',
        clientSecret: 's',
        scope: 'a b',
        resource: undefined,
      },
    });
  });
});
