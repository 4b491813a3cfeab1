import {
  MAX_RECENT_VERIFIERS,
  type CachedToken,
  type RecentVerifier,
} from '../store/token-store.interface.js';
import { TokenFingerprinter } from './token-fingerprint.js';

/**
 * Which secrets a cached token serves while a client rotates its secret. A token serves the secret that obtained it
 * (`verifier`) and, in `recentVerifiers`, the few other secrets of the same identity that obtained a token within
 * one token lifetime of it, so that callers alternating between an old and a new secret are both served from the
 * cache. A secret that never obtained a token is in no list and goes to the issuer. Verifiers are keyed hashes:
 * neither form holds a secret.
 */
export class SecretRotation {
  /**
   * Whether `token` serves the secret behind `verifier`, compared in time that depends only on the verifiers'
   * lengths and how many the token carries.
   */
  static serves(token: CachedToken, verifier: string): boolean {
    let served = TokenFingerprinter.sameVerifier(token.verifier, verifier);
    const recent = token.recentVerifiers;
    if (recent !== undefined) {
      for (const other of recent)
        served = TokenFingerprinter.sameVerifier(other.verifier, verifier) || served;
    }
    return served;
  }

  /**
   * Whether `token` serves the holder of `verifier`, for verifiers this process derived itself (the header memo):
   * a plain comparison, the token's own verifier first.
   */
  static servesKnown(token: CachedToken, verifier: string): boolean {
    if (token.verifier === verifier) return true;
    const recent = token.recentVerifiers;
    if (recent === undefined) return false;
    for (const other of recent) if (other.verifier === verifier) return true;
    return false;
  }

  /**
   * `granted` (a token just obtained for the same identity as `previous`) carrying the verifiers of `previous` whose
   * secrets obtained a token less than one lifetime of `granted` ago, newest first, at most
   * `MAX_RECENT_VERIFIERS` besides its own. An old secret the issuer no longer accepts thus stops riding after one lifetime
   * without a grant of its own.
   */
  static carryOver(granted: CachedToken, previous: CachedToken | undefined): CachedToken {
    const { verifier, recentVerifiers: _ignored, ...rest } = granted;
    const token: CachedToken = { ...rest, verifier };
    if (previous === undefined || verifier === '') return token;
    const life = granted.expiresAt - granted.issuedAt;
    const since = granted.issuedAt - life;
    const candidates: RecentVerifier[] = [
      { verifier: previous.verifier, grantedAt: previous.issuedAt },
      ...(previous.recentVerifiers ?? []),
    ];
    const kept: RecentVerifier[] = [];
    for (const candidate of candidates.sort((a, b) => b.grantedAt - a.grantedAt)) {
      if (kept.length === MAX_RECENT_VERIFIERS) break;
      if (candidate.verifier === '' || candidate.verifier === verifier || candidate.grantedAt <= since)
        continue;
      if (kept.some((known) => known.verifier === candidate.verifier)) continue;
      kept.push({ verifier: candidate.verifier, grantedAt: candidate.grantedAt });
    }
    if (kept.length > 0) token.recentVerifiers = kept;
    return token;
  }
}
