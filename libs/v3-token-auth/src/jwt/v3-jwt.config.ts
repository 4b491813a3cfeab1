import { V3TokenAuthOptionsError } from '../module/v3-token-auth.config.js';
import { V3_JWT_ASYMMETRIC_ALGORITHMS, type V3JwtOptions } from './v3-jwt.options.js';

function httpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function optionalNonNegativeInteger(jwt: V3JwtOptions, name: keyof V3JwtOptions): void {
  const value = jwt[name];
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
    throw new V3TokenAuthOptionsError(
      `jwt.${name}`,
      `must be an integer >= 0 (got ${JSON.stringify(value)})`,
    );
  }
}

/** Checks the `jwt` module option; throws `V3TokenAuthOptionsError` naming the first bad field and the fix. */
export function validateV3JwtOptions(jwt: V3JwtOptions): void {
  if (typeof jwt !== 'object' || jwt === null) {
    throw new V3TokenAuthOptionsError('jwt', 'must be an object { jwksUrl, issuer, audience? }');
  }
  if (!httpUrl(jwt.jwksUrl)) {
    throw new V3TokenAuthOptionsError('jwt.jwksUrl', 'is required: the http(s) URL of the issuer JWKS');
  }
  if (typeof jwt.issuer !== 'string' || jwt.issuer === '') {
    throw new V3TokenAuthOptionsError('jwt.issuer', 'is required: the exact "iss" of the issuer tokens');
  }
  const audiences = jwt.audience === undefined ? [] : [jwt.audience].flat();
  if (audiences.some((audience) => typeof audience !== 'string' || audience === '')) {
    throw new V3TokenAuthOptionsError('jwt.audience', 'must be a non-empty string or an array of them');
  }
  const refused = (jwt.algorithms ?? []).filter((alg) => !V3_JWT_ASYMMETRIC_ALGORITHMS.includes(alg));
  if (jwt.algorithms !== undefined && (jwt.algorithms.length === 0 || refused.length > 0)) {
    throw new V3TokenAuthOptionsError(
      'jwt.algorithms',
      `must list asymmetric algorithms only (${V3_JWT_ASYMMETRIC_ALGORITHMS.join(', ')}); refused: ${refused.join(', ') || '(empty list)'}`,
    );
  }
  for (const name of ['clockToleranceSeconds', 'jwksCooldownMs', 'jwksMaxAgeMs', 'jwksTimeoutMs'] as const) {
    optionalNonNegativeInteger(jwt, name);
  }
  if (
    jwt.maxCachedTokens !== undefined &&
    (!Number.isInteger(jwt.maxCachedTokens) || jwt.maxCachedTokens < 1)
  ) {
    throw new V3TokenAuthOptionsError('jwt.maxCachedTokens', 'must be an integer >= 1');
  }
}
