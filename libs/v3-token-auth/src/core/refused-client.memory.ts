import type { CallerStanding } from './credential-throttle.js';

/** Options of {@link RefusedClientMemory}. */
export interface RefusedClientMemoryOptions {
  /** How long a refusal is remembered per client id, ms. @default 10000 */
  ttlMs?: number;
  /** Most client ids remembered at once; the oldest refusal goes first. @default 10000 */
  maxEntries?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * Remembers briefly that the issuer answered `invalid_client` for a client id, whatever secret came with it, so
 * that a flood of guesses for one unknown id costs the issuer one call per `ttlMs` instead of one per guess.
 *
 * A remembered refusal applies only to callers that have earned it: never to a known-good secret, and never to an
 * address without failures of its own. So an attacker who sends wrong secrets for a real client id cannot get its
 * owner refused from this memory.
 * @example
 * const refusal = memory.recall(clientKey, await throttle.standing(attempt));
 * if (refusal) throw refusal;
 */
export class RefusedClientMemory<E> {
  private readonly refusals = new Map<string, { error: E; until: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: RefusedClientMemoryOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** Remembers the issuer's refusal `error` of `clientKey` (a keyed hash of the client id) for `ttlMs`. */
  remember(clientKey: string, error: E): void {
    this.refusals.delete(clientKey);
    this.refusals.set(clientKey, { error, until: this.now() + this.ttlMs });
    while (this.refusals.size > this.maxEntries) {
      this.refusals.delete(this.refusals.keys().next().value as string);
    }
  }

  /** The remembered refusal of `clientKey` when it applies to a caller of `standing`; undefined otherwise. */
  recall(clientKey: string, standing: CallerStanding): E | undefined {
    if (standing.knownGood || standing.addressFailures === 0) return undefined;
    const refusal = this.refusals.get(clientKey);
    if (refusal === undefined) return undefined;
    if (this.now() < refusal.until) return refusal.error;
    this.refusals.delete(clientKey);
    return undefined;
  }

  /** Forgets `clientKey` (call on a successful grant). */
  forget(clientKey: string): void {
    this.refusals.delete(clientKey);
  }
}
