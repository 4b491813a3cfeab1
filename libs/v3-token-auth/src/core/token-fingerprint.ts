import { createHmac, createSecretKey, hash, randomBytes, type KeyObject } from 'node:crypto';
import type { V3Credentials } from '../v3-token.interfaces.js';
import { normalizeScope } from './token-scope.js';

/** What every `bearerKey` starts with. */
const BEARER_KEY_PREFIX = 'b.';

/**
 * Keyed hashes (HMAC-SHA256) that stand in for credentials: cache keys, secret verifiers, bearer and header keys.
 * None of them contains or reveals a secret; instances that share Redis must share the key.
 */
export class TokenFingerprinter {
  private readonly key: KeyObject;

  constructor(
    key: string | Buffer | undefined,
    private readonly tokenUrl: string,
  ) {
    this.key = createSecretKey(
      key === undefined ? randomBytes(32) : Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8'),
    );
  }

  private mac(...parts: string[]): string {
    return createHmac('sha256', this.key).update(parts.join('\u0000')).digest('base64url');
  }

  /**
   * Cache key of a token's identity: token URL, grant type, client id, username, the normalised scope set and the
   * resource. Never a secret.
   */
  credentialsKey(credentials: V3Credentials): string {
    const identity = [
      'key',
      this.tokenUrl,
      credentials.grantType,
      credentials.clientId,
      credentials.username ?? '',
      normalizeScope(credentials.scope) ?? '',
      credentials.resource ?? '',
    ];
    return `c.${this.mac(...identity)}`;
  }

  /** Verifier of the secrets that obtained a token, bound to its cache key. */
  verifier(cacheKey: string, credentials: V3Credentials): string {
    return this.mac('verifier', cacheKey, credentials.clientSecret ?? '', credentials.password ?? '');
  }

  /**
   * Verifier of a client's secret (and, under `password`, its user's password) at this token URL, bound to its
   * `clientKey` and so the same whatever scope or resource a grant asks for: what the throttle's known-good exemption,
   * the refused-secret memory and the re-grant windows count by.
   */
  secretsVerifier(clientKey: string, clientSecret = '', password = ''): string {
    return this.mac('verifier', clientKey, clientSecret, password);
  }

  /** Throttle key of a client (and, under `password`, of its user) at this token URL; scope-independent. */
  clientKey(clientId: string, username = ''): string {
    return `t.${this.mac('client', this.tokenUrl, clientId, username)}`;
  }

  /** Throttle key of a caller address (as the edge derived it). */
  addressKey(callerAddress: string): string {
    return `a.${this.mac('address', callerAddress)}`;
  }

  /** Cache key of an access token handed out, for `Authorization: Bearer`. */
  bearerKey(accessToken: string): string {
    return `${BEARER_KEY_PREFIX}${this.mac('bearer', accessToken)}`;
  }

  /** Key of a refresh token handed out, under which its owner is kept (`RefreshTokenOwners`). */
  refreshKey(refreshToken: string): string {
    return `r.${this.mac('refresh', refreshToken)}`;
  }

  /** Whether `key` is a `bearerKey` rather than the key of a token's identity. */
  static isBearerKey(key: string): boolean {
    return key.startsWith(BEARER_KEY_PREFIX);
  }

  /**
   * Key of an exact Authorization header value, for the in-process hot path only (it never leaves the process).
   * A one-shot SHA-256: collision-resistant like the HMACs, at a fifth of their cost per request. `requestVariant`
   * (the normalised scope and resource of a request that asks for them) keeps a route's token apart from another's.
   */
  headerKey(authorization: string, requestVariant = ''): string {
    return hash(
      'sha256',
      requestVariant === '' ? authorization : `${requestVariant}\u0000${authorization}`,
      'base64url',
    );
  }

  /**
   * What a shared store keeps to exempt a verifier from the wrong-secret throttle: a SHA-256 of it, so that the store
   * never holds a verifier in clear outside its (possibly sealed) entry.
   */
  static exemptionTag(verifier: string): string {
    return hash('sha256', verifier, 'base64url');
  }

  /** Comparison of two verifiers in time that depends only on their length (no buffers: it runs per store hit). */
  static sameVerifier(a: string, b: string): boolean {
    if (a.length !== b.length) return false;
    let difference = 0;
    for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return difference === 0;
  }
}
