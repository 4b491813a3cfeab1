/** Options of {@link IssuerBackoffMemory}. */
export interface IssuerBackoffMemoryOptions {
  /** Most clients held at once; the oldest backoff goes first. @default 10000 */
  maxEntries?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * Remembers that the issuer answered 429 for a client, until its `Retry-After` has passed, so that this client's
 * next grants wait for it without calling the issuer; other clients are not affected.
 * @example
 * backoff.remember(clientKey, 30_000);
 * backoff.remainingMs(clientKey); // 30000, then less, then 0
 */
export class IssuerBackoffMemory {
  private readonly until = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: IssuerBackoffMemoryOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** Holds `clientKey` (a keyed hash of the client identity) back for `delayMs`. */
  remember(clientKey: string, delayMs: number): void {
    this.until.delete(clientKey);
    this.until.set(clientKey, this.now() + Math.max(0, delayMs));
    while (this.until.size > this.maxEntries) this.until.delete(this.until.keys().next().value as string);
  }

  /** Ms until `clientKey` may call the issuer again; 0 when it may now. */
  remainingMs(clientKey: string): number {
    const until = this.until.get(clientKey);
    if (until === undefined) return 0;
    const remaining = until - this.now();
    if (remaining > 0) return remaining;
    this.until.delete(clientKey);
    return 0;
  }
}
