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
  /**
   * The issuer's JWKS, e.g. `https://issuer.example/realms/x/protocol/openid-connect/certs`. Fetched with one GET
   * (redirects not followed, 200 only); a body over 1 MiB is abandoned and counts as a failed fetch.
   */
  jwksUrl: string;
  /** Required `iss` claim. */
  issuer: string;
  /** Required `aud` claim (any one of them when several); unchecked when omitted. */
  audience?: string | string[];
  /** Accepted signing algorithms; a subset of the asymmetric ones. Default: all of them. */
  algorithms?: V3JwtAlgorithm[];
  /** Leeway for `exp`/`nbf`/`iat` in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /**
   * Least time after a good JWKS fetch before a token with an unknown `kid` (key rotation) fetches it again, in ms;
   * meanwhile such a token is refused (401). Also the longest backoff after failed fetches: after a failure no fetch
   * starts for 1 s, doubled on each further failure up to `max(jwksCooldownMs, 1000)`, and every token that needs
   * the JWKS meanwhile gets the 503 at once. Default 30000.
   * @example jwksCooldownMs: 10_000 // rotation picked up within 10 s; a failing JWKS retried at most every 10 s
   */
  jwksCooldownMs?: number;
  /**
   * How long a fetched JWKS is used before it is fetched again, in ms. When that refetch fails (or is in its
   * backoff), the last good set keeps verifying the `kid`s it has for up to an hour more (`STALE_KEYS_GRACE_MS`), then
   * 503 until a fetch succeeds; a `kid` it lacks is a 503.
   * Default 600000.
   */
  jwksMaxAgeMs?: number;
  /** Deadline of one JWKS fetch (connect, headers and body), in ms; running out is a failed fetch. Default 5000. */
  jwksTimeoutMs?: number;
  /** Verified tokens remembered by SHA-256 hash until they expire. Default 10000. */
  maxCachedTokens?: number;
}
