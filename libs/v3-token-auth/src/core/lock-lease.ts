import type { TokenLock } from '../store/token-store.interface.js';

/**
 * Runs `action` while holding `lock`, renewing its lease every third of `leaseMs` so a slow issuer call cannot
 * outlive it, then releases the lock. Without a lock (store down) `action` just runs.
 */
export async function withRenewedLease<T>(
  lock: TokenLock | undefined,
  leaseMs: number,
  action: () => Promise<T>,
): Promise<T> {
  if (!lock) return action();
  const renewal = setInterval(() => void lock.renew(leaseMs).catch(() => false), Math.max(50, leaseMs / 3));
  renewal.unref();
  try {
    return await action();
  } finally {
    clearInterval(renewal);
    await lock.release().catch(() => undefined);
  }
}
