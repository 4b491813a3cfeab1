import { errors, jwtVerify, type JWTPayload } from 'jose';
import { V3IssuerUnavailableException } from '../v3-token.exceptions.js';
import type { V3Principal } from '../v3-token.interfaces.js';
import { JwksKeySource } from './jwks-key.source.js';
import { JwksUnavailableError } from './jwks-unavailable.error.js';
import { V3InvalidTokenException } from './v3-invalid-token.exception.js';
import { V3_JWT_ASYMMETRIC_ALGORITHMS, type V3JwtOptions } from './v3-jwt.options.js';
import { VerifiedJwtCache } from './verified-jwt.cache.js';

/** A principal proven by an issuer-minted JWT: the token is relayed as it is. */
export interface V3JwtPrincipal extends V3Principal {
  /** Granted scopes, from `scope` (space-separated) or `scp` (array or string). */
  scopes: string[];
  /** The verified claims. */
  claims: JWTPayload;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when `token` has the three-part compact shape of a JWS; says nothing about its validity. */
export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

/**
 * Verifies issuer-minted JWTs locally with `jose`: signature against the issuer's JWKS by `kid` (cached, refetched on
 * an unknown `kid` at most once per cooldown, so key rotation is picked up; see {@link JwksKeySource} for the backoff
 * after a failed fetch and the 1 MiB body cap), an allow-list of asymmetric algorithms (never `none`, never an HMAC),
 * `iss`, `aud`, `exp`/`nbf` with a leeway. Verified tokens are remembered by hash until they expire. Every refusal is
 * a {@link V3InvalidTokenException}; an unreachable JWKS is a 503 whose `Retry-After` is the end of the backoff.
 */
export class V3JwtVerifier {
  private readonly jwks: JwksKeySource;
  private readonly verified: VerifiedJwtCache<V3JwtPrincipal>;

  constructor(
    private readonly options: V3JwtOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.jwks = new JwksKeySource(
      {
        url: options.jwksUrl,
        cooldownMs: options.jwksCooldownMs ?? 30_000,
        maxAgeMs: options.jwksMaxAgeMs ?? 600_000,
        timeoutMs: options.jwksTimeoutMs ?? 5000,
      },
      now,
    );
    this.verified = new VerifiedJwtCache(options.maxCachedTokens ?? 10_000, now);
  }

  /** When `token` expires (epoch ms), if this verifier verified it and it has not expired yet; no I/O. */
  verifiedExpiry(token: string): number | undefined {
    return this.verified.get(token)?.expiresAt;
  }

  /** The principal of a valid `token`; rejects with `V3InvalidTokenException` otherwise. */
  async verify(token: string): Promise<V3JwtPrincipal> {
    const known = this.verified.get(token);
    if (known) return known;
    if (!looksLikeJwt(token)) throw new V3InvalidTokenException('The token is not a JWT');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks.getKey, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: [...(this.options.algorithms ?? V3_JWT_ASYMMETRIC_ALGORITHMS)],
        clockTolerance: this.options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp'],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      throw describeFailure(error, this.now());
    }
    const principal = toPrincipal(token, payload);
    this.verified.set(token, principal, principal.expiresAt);
    return principal;
  }
}

function toPrincipal(token: string, claims: JWTPayload): V3JwtPrincipal {
  const clientId = [claims['client_id'], claims['azp'], claims.sub].find(
    (value): value is string => typeof value === 'string' && value !== '',
  );
  if (!clientId) throw new V3InvalidTokenException('The token names no client (client_id, azp or sub)');
  const scopes = grantedScopes(claims);
  const principal: V3JwtPrincipal = {
    clientId,
    accessToken: token,
    tokenType: 'Bearer',
    expiresAt: (claims.exp ?? 0) * 1000,
    scope: scopes.join(' '),
    scopes,
    claims,
  };
  // RFC 7519 §4.1.3: `aud` is one string or an array of them.
  const audience = claimStrings(claims.aud, false);
  if (audience.length > 0) principal.audience = audience;
  return principal;
}

/** Scopes from `scope` (space-separated) or else `scp` (array or space-separated string). */
export function grantedScopes(claims: JWTPayload): string[] {
  return claimStrings(typeof claims['scope'] === 'string' ? claims['scope'] : claims['scp'], true);
}

/** A claim of one string or an array of strings, as its non-empty strings; `spaced` splits a string on spaces. */
function claimStrings(value: unknown, spaced: boolean): string[] {
  if (typeof value === 'string') return (spaced ? value.split(' ') : [value]).filter(Boolean);
  if (Array.isArray(value))
    return value.filter((item): item is string => typeof item === 'string' && item !== '');
  return [];
}

function describeFailure(error: unknown, now: number): Error {
  if (error instanceof V3InvalidTokenException) return error;
  if (error instanceof JwksUnavailableError) {
    const retryAfterSeconds = Math.max(1, Math.ceil((error.retryAt - now) / 1000));
    return new V3IssuerUnavailableException(
      error.timedOut ? 'The issuer JWKS timed out' : 'The issuer JWKS could not be fetched',
      retryAfterSeconds,
    );
  }
  if (error instanceof errors.JWTExpired) return new V3InvalidTokenException('The token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new V3InvalidTokenException(`The token's "${error.claim}" claim is not accepted`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new V3InvalidTokenException('The token is signed with an algorithm that is not accepted');
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new V3InvalidTokenException('The token is signed by a key the issuer does not publish');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new V3InvalidTokenException('The token signature does not verify');
  }
  if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSInvalid)) {
    return new V3InvalidTokenException('The token is malformed');
  }
  // A published key jose cannot use (JWKSInvalid), or anything unforeseen: the issuer's fault, not the caller's.
  return new V3IssuerUnavailableException('The issuer JWKS could not be fetched');
}
