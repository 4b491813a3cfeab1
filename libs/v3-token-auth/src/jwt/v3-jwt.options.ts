/** Asymmetric JWS algorithms an issuer may sign with; `none` and every HMAC are never accepted. */
export type V3JwtAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** Every algorithm in {@link V3JwtAlgorithm}: the default allow-list. */
export const V3_JWT_ASYMMETRIC_ALGORITHMS: readonly V3JwtAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** Local verification of JWTs minted by the issuer, against its published JWKS. */
export interface V3JwtOptions {
  /** The issuer's JWKS, e.g. `https://issuer.example/realms/x/protocol/openid-connect/certs`. */
  jwksUrl: string;
  /** Required `iss` claim. */
  issuer: string;
  /** Required `aud` claim (any one of them when several); unchecked when omitted. */
  audience?: string | string[];
  /** Accepted signing algorithms; a subset of the asymmetric ones. Default: all of them. */
  algorithms?: V3JwtAlgorithm[];
  /** Leeway for `exp`/`nbf`/`iat` in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /** Least time between two JWKS fetches for an unknown `kid` (rotation), in ms. Default 30000. */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is trusted before it is fetched again, in ms. Default 600000. */
  jwksMaxAgeMs?: number;
  /** Timeout of one JWKS fetch, in ms. Default 5000. */
  jwksTimeoutMs?: number;
  /** Verified tokens remembered by SHA-256 hash until they expire. Default 10000. */
  maxCachedTokens?: number;
}
