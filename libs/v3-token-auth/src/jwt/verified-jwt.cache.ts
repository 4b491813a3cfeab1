import { createHash } from 'node:crypto';

interface CacheEntry<T> {
  value: T;
  expiresAt: number;
}

/**
 * Verified tokens by SHA-256 of the token (the token itself is never kept as a key), each until it expires; least
 * recently used first out once `maxEntries` is reached.
 */
export class VerifiedJwtCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value remembered for `token`, when it has not expired. */
  get(token: string): T | undefined {
    const key = hashToken(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Remembers `value` for `token` until `expiresAt` (epoch ms). */
  set(token: string, value: T, expiresAt: number): void {
    if (expiresAt <= this.now()) return;
    const key = hashToken(token);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAt });
  }

  /** Number of entries held, expired ones included until touched. */
  get size(): number {
    return this.entries.size;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
