import type { CachedToken, TokenLock, TokenStore, TombstoneListener } from 'nestjs-v3-token-auth';

/** A gate a test opens: calls that reach it wait until `open()`. */
export class Gate {
  private release: (() => void) | undefined;
  private passage: Promise<void> | undefined;
  /** Calls waiting at the gate now. */
  waiting = 0;

  /** Closes the gate: the next calls wait. */
  close(): void {
    this.passage = new Promise<void>((resolve) => (this.release = resolve));
  }

  /** Opens the gate: every waiting call goes on. */
  open(): void {
    this.release?.();
    this.passage = undefined;
  }

  async pass(): Promise<void> {
    const passage = this.passage;
    if (passage === undefined) return;
    this.waiting += 1;
    await passage;
    this.waiting -= 1;
  }
}

/**
 * A real `TokenStore` (a `RedisTokenStore`) whose answers to `get` and `isTombstoned` can be held back by a gate
 * after the store has answered: a read "in flight" while something else happens. Nothing else is changed.
 */
export class GatedTokenStore implements TokenStore {
  readonly getGate = new Gate();
  readonly tombstoneGate = new Gate();

  constructor(readonly inner: TokenStore & Required<Pick<TokenStore, 'isTombstoned'>>) {}

  async get(key: string): Promise<CachedToken | undefined> {
    const answer = await this.inner.get(key);
    await this.getGate.pass();
    return answer;
  }
  set(key: string, entry: CachedToken, ttlMs: number): Promise<void> {
    return this.inner.set(key, entry, ttlMs);
  }
  delete(key: string, ifAccessToken?: string): Promise<boolean> {
    return this.inner.delete(key, ifAccessToken);
  }
  acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined> {
    return this.inner.acquireLock(key, ttlMs);
  }
  isHealthy(): boolean {
    return this.inner.isHealthy();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  tombstone(key: string, ttlMs: number): Promise<void> {
    return this.inner.tombstone?.(key, ttlMs) ?? Promise.resolve();
  }
  async isTombstoned(key: string): Promise<boolean> {
    const answer = await this.inner.isTombstoned(key);
    await this.tombstoneGate.pass();
    return answer;
  }
  onTombstone(listener: TombstoneListener): void {
    this.inner.onTombstone?.(listener);
  }
}
