import { describe, expect, it } from '@jest/globals';
import { V3InvalidTokenException } from '../jwt/v3-invalid-token.exception.js';
import type { V3Principal } from '../v3-token.interfaces.js';
import { meantFor } from './token-audience.js';

const principal = (audience?: string[]): V3Principal => ({
  clientId: 'svc',
  accessToken: 'opaque',
  tokenType: 'Bearer',
  expiresAt: 0,
  ...(audience ? { audience } : {}),
});

describe('meantFor', () => {
  it('passes a principal when no resource is asked for, or when its audience lists the resource', () => {
    const none = principal();
    expect(meantFor(none, undefined)).toBe(none);
    const listed = principal(['gateway', 'https://orders.example']);
    expect(meantFor(listed, 'https://orders.example')).toBe(listed);
  });

  it('refuses with 401 invalid_token a principal of another audience, or of none, naming the resource', () => {
    for (const audience of [undefined, [], ['https://orders.example/'], ['gateway']]) {
      let thrown: unknown;
      try {
        meantFor(principal(audience), 'https://orders.example');
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(V3InvalidTokenException);
      expect(thrown).toMatchObject({ status: 401, oauthError: 'invalid_token' });
      expect((thrown as Error).message).toContain('https://orders.example');
    }
  });
});
