import { describe, expect, it } from '@jest/globals';
import { resolveV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3JwtOptions } from './v3-jwt.options.js';

const resolve = (jwt: Partial<V3JwtOptions>) =>
  resolveV3TokenAuthOptions({ tokenUrl: 'http://issuer.test/token', jwt: jwt as V3JwtOptions });

describe('the jwt module option', () => {
  it('accepts a JWKS URL, an issuer and an audience', () => {
    const jwt = { jwksUrl: 'https://issuer.test/certs', issuer: 'https://issuer.test', audience: 'orders' };
    expect(resolve(jwt).jwt).toEqual(jwt);
  });

  it.each([
    [{ issuer: 'i' }, /"jwt.jwksUrl" is required/],
    [{ jwksUrl: 'ftp://x/certs', issuer: 'i' }, /"jwt.jwksUrl"/],
    [{ jwksUrl: 'https://x/certs' }, /"jwt.issuer" is required/],
    [{ jwksUrl: 'https://x/certs', issuer: 'i', audience: '' }, /"jwt.audience"/],
    [{ jwksUrl: 'https://x/certs', issuer: 'i', algorithms: ['HS256'] }, /"jwt.algorithms".*refused: HS256/],
    [{ jwksUrl: 'https://x/certs', issuer: 'i', algorithms: ['none'] }, /"jwt.algorithms".*refused: none/],
    [{ jwksUrl: 'https://x/certs', issuer: 'i', algorithms: [] }, /"jwt.algorithms"/],
    [{ jwksUrl: 'https://x/certs', issuer: 'i', jwksCooldownMs: -1 }, /"jwt.jwksCooldownMs"/],
    [{ jwksUrl: 'https://x/certs', issuer: 'i', maxCachedTokens: 0 }, /"jwt.maxCachedTokens"/],
  ])('refuses %j at boot, naming the field', (jwt, message) => {
    expect(() => resolve(jwt as Partial<V3JwtOptions>)).toThrow(message);
  });
});
