interface CacheNode<V> {
  key: string;
  value: V;
  expiresAt: number;
  newer: CacheNode<V> | undefined;
  older: CacheNode<V> | undefined;
}

/** Options of `BoundedTtlCache` and `MemoryTokenStore`. */
export interface BoundedCacheOptions {
  /** Entries held at most; the least recently used go first. @default 10000 */
  maxEntries?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * A bounded map whose entries expire: least-recently-used eviction and expiry checks, all O(1).
 * `get` allocates nothing. An expired entry is a miss and is removed when it is met.
 * @example
 * const cache = new BoundedTtlCache<string>({ maxEntries: 100 });
 * cache.set('k', 'v', Date.now() + 60_000);
 */
export class BoundedTtlCache<V> {
  private readonly nodes = new Map<string, CacheNode<V>>();
  private newest: CacheNode<V> | undefined;
  private oldest: CacheNode<V> | undefined;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor({ maxEntries = 10000, now = Date.now }: BoundedCacheOptions = {}) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new Error(`maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.maxEntries = maxEntries;
    this.now = now;
  }

  /** Entries held, expired ones not yet met included. */
  get size(): number {
    return this.nodes.size;
  }

  /** The live value under `key` (and marks it most recently used), or undefined. */
  get(key: string): V | undefined {
    const node = this.nodes.get(key);
    if (node === undefined) return undefined;
    if (node.expiresAt <= this.now()) {
      this.remove(node);
      return undefined;
    }
    this.touch(node);
    return node.value;
  }

  /** When the live entry under `key` expires (epoch ms; it is not marked used), or undefined. */
  expiresAt(key: string): number | undefined {
    const node = this.nodes.get(key);
    return node === undefined || node.expiresAt <= this.now() ? undefined : node.expiresAt;
  }

  /** Stores `value` until epoch ms `expiresAt`; an `expiresAt` already past removes the key instead. */
  set(key: string, value: V, expiresAt: number): void {
    const existing = this.nodes.get(key);
    if (!(expiresAt > this.now())) {
      if (existing) this.remove(existing);
      return;
    }
    if (existing) {
      if (existing.value !== value) existing.value = value;
      if (existing.expiresAt !== expiresAt) existing.expiresAt = expiresAt;
      this.touch(existing);
      return;
    }
    if (this.nodes.size >= this.maxEntries && this.oldest) this.remove(this.oldest);
    const node: CacheNode<V> = { key, value, expiresAt, newer: undefined, older: this.newest };
    if (this.newest) this.newest.newer = node;
    this.newest = node;
    this.oldest ??= node;
    this.nodes.set(key, node);
  }

  /** Removes `key`; true when a live entry was removed. */
  delete(key: string): boolean {
    const node = this.nodes.get(key);
    if (node === undefined) return false;
    this.remove(node);
    return node.expiresAt > this.now();
  }

  /** The live values (a scan: for rare operations). */
  values(): V[] {
    const now = this.now();
    return [...this.nodes.values()].filter((node) => node.expiresAt > now).map((node) => node.value);
  }

  /** Removes every entry whose value satisfies `predicate` (a scan: for rare operations); the values removed. */
  deleteWhere(predicate: (value: V) => boolean): V[] {
    const removed: V[] = [];
    for (const node of [...this.nodes.values()]) {
      if (!predicate(node.value)) continue;
      this.remove(node);
      if (node.expiresAt > this.now()) removed.push(node.value);
    }
    return removed;
  }

  clear(): void {
    this.nodes.clear();
    this.newest = undefined;
    this.oldest = undefined;
  }

  private touch(node: CacheNode<V>): void {
    if (node === this.newest) return;
    this.unlink(node);
    node.older = this.newest;
    node.newer = undefined;
    if (this.newest) this.newest.newer = node;
    this.newest = node;
    this.oldest ??= node;
  }

  private remove(node: CacheNode<V>): void {
    this.unlink(node);
    this.nodes.delete(node.key);
  }

  private unlink(node: CacheNode<V>): void {
    if (node.newer) node.newer.older = node.older;
    else this.newest = node.older;
    if (node.older) node.older.newer = node.newer;
    else this.oldest = node.newer;
    node.newer = undefined;
    node.older = undefined;
  }
}
