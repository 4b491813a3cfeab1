import type { CredentialThrottleStore, ThrottleScope } from '../core/credential-throttle.store.js';
import type { FailSoftTokenStore } from '../core/fail-soft-token.store.js';
import type { FailureWindow } from '../core/failure-count.table.js';
import type { MemoryCredentialThrottleStore } from './memory/memory-credential-throttle.store.js';

/**
 * The throttle's counts in this process and, when the token store keeps a shared throttle (`RedisTokenStore`), over
 * every instance: each failure is counted in both, a read answers the higher count, and a secret known-good in
 * either passes. When the shared store fails or keeps no throttle, this process's counts still apply. The shared
 * store remembers the last known-good secret per client; this process remembers a few.
 */
export class SharedCredentialThrottleStore implements CredentialThrottleStore {
  constructor(
    private readonly local: MemoryCredentialThrottleStore,
    private readonly shared: FailSoftTokenStore,
    private readonly now: () => number,
  ) {}

  async increment(scope: ThrottleScope, key: string, windowMs: number): Promise<FailureWindow> {
    const [local] = await Promise.all([
      this.local.increment(scope, key, windowMs),
      this.shared.countFailure(`${scope}.${key}`, windowMs),
    ]);
    return (await this.sharedWindow(scope, key, local)) ?? local;
  }

  async read(scope: ThrottleScope, key: string): Promise<FailureWindow | undefined> {
    return this.sharedWindow(scope, key, await this.local.read(scope, key));
  }

  async rememberKnownGood(clientKey: string, tag: string, ttlMs: number): Promise<void> {
    await Promise.all([
      this.local.rememberKnownGood(clientKey, tag, ttlMs),
      this.shared.rememberGood(`good.${clientKey}`, tag, ttlMs),
    ]);
  }

  async isKnownGood(clientKey: string, tag: string): Promise<boolean> {
    if (await this.local.isKnownGood(clientKey, tag)) return true;
    const state = await this.shared.throttleState(`good.${clientKey}`);
    return state?.good === tag;
  }

  /** The higher of `local` and the shared window of `key`. */
  private async sharedWindow(
    scope: ThrottleScope,
    key: string,
    local: FailureWindow | undefined,
  ): Promise<FailureWindow | undefined> {
    const state = await this.shared.throttleState(`${scope}.${key}`);
    if (state === undefined || state.failures <= (local?.count ?? 0)) return local;
    return { count: state.failures, resetAt: this.now() + state.resetInMs };
  }
}
