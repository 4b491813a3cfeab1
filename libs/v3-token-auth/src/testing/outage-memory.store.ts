import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import type { CountWindow, ReauthWindowState } from '../store/token-store.interface.js';

const unreachable = (): Promise<never> => Promise.reject(new Error('Redis is not connected'));

/**
 * For specs: a `MemoryTokenStore` whose fleet-wide operations (`countInWindow` and the re-grant windows) fail while
 * `down`, as a Redis outage makes them; its token entries keep working. Not part of the package.
 */
export class OutageMemoryStore extends MemoryTokenStore {
  down = false;

  override countInWindow(key: string, windowMs: number): Promise<CountWindow> {
    return this.down ? unreachable() : super.countInWindow(key, windowMs);
  }

  override openReauthWindow(key: string, ttlMs: number): Promise<void> {
    return this.down ? unreachable() : super.openReauthWindow(key, ttlMs);
  }

  override spendReauthWindow(key: string): Promise<ReauthWindowState> {
    return this.down ? unreachable() : super.spendReauthWindow(key);
  }

  override refundReauthWindow(key: string): Promise<void> {
    return this.down ? unreachable() : super.refundReauthWindow(key);
  }
}
