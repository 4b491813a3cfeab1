import type { CredentialThrottleStore, ThrottleScope } from '../../core/credential-throttle.store.js';
import { FailureCountTable, type FailureWindow } from '../../core/failure-count.table.js';

/** Options of {@link MemoryCredentialThrottleStore}. */
export interface MemoryCredentialThrottleStoreOptions {
  /** Most client ids with a failure count held at once (the address table holds as many). @default 10000 */
  maxEntries?: number;
  /** Most clients with known-good secrets held at once; the least recently confirmed go first. @default 10000 */
  maxKnownGoodClients?: number;
  /** Most known-good secrets per client (rotation keeps two alive); the oldest goes first. @default 4 */
  maxKnownGoodPerClient?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * The throttle's counts in process: one {@link FailureCountTable} per scope (so a flood of junk client ids cannot
 * push out address counts, nor junk addresses client counts) and a bounded map of known-good secrets.
 * @example new CredentialThrottle({ store: new MemoryCredentialThrottleStore({ maxEntries: 50_000 }) })
 */
export class MemoryCredentialThrottleStore implements CredentialThrottleStore {
  private readonly tables: Record<ThrottleScope, FailureCountTable>;
  private readonly knownGood = new Map<string, Map<string, number>>();
  private readonly maxKnownGoodClients: number;
  private readonly maxKnownGoodPerClient: number;
  private readonly now: () => number;

  constructor(options: MemoryCredentialThrottleStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    const table = { maxEntries: options.maxEntries, now: this.now };
    this.tables = { client: new FailureCountTable(table), address: new FailureCountTable(table) };
    this.maxKnownGoodClients = Math.max(1, options.maxKnownGoodClients ?? 10_000);
    this.maxKnownGoodPerClient = Math.max(1, options.maxKnownGoodPerClient ?? 4);
  }

  increment(scope: ThrottleScope, key: string, windowMs: number): Promise<FailureWindow> {
    return Promise.resolve({ ...this.tables[scope].increment(key, windowMs) });
  }

  read(scope: ThrottleScope, key: string): Promise<FailureWindow | undefined> {
    const window = this.tables[scope].get(key);
    return Promise.resolve(window && { ...window });
  }

  rememberKnownGood(clientKey: string, tag: string, ttlMs: number): Promise<void> {
    const tags = this.knownGood.get(clientKey) ?? new Map<string, number>();
    this.knownGood.delete(clientKey);
    this.knownGood.set(clientKey, tags);
    tags.delete(tag);
    tags.set(tag, this.now() + ttlMs);
    while (tags.size > this.maxKnownGoodPerClient) tags.delete(tags.keys().next().value as string);
    while (this.knownGood.size > this.maxKnownGoodClients) {
      this.knownGood.delete(this.knownGood.keys().next().value as string);
    }
    return Promise.resolve();
  }

  isKnownGood(clientKey: string, tag: string): Promise<boolean> {
    const until = this.knownGood.get(clientKey)?.get(tag);
    return Promise.resolve(until !== undefined && this.now() < until);
  }
}
