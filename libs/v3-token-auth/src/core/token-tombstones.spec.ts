import { describe, expect, it } from '@jest/globals';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { TokenTombstones } from './token-tombstones.js';

/** A memory store that counts its tombstone reads and can be made to fail them. */
class CountingStore extends MemoryTokenStore {
  reads = 0;
  failing = false;

  override isTombstoned(key: string): Promise<boolean> {
    this.reads += 1;
    return this.failing ? Promise.reject(new Error('store down')) : super.isTombstoned(key);
  }
}

describe('TokenTombstones.clearedOnce (tokens verified without the store: issuer JWTs)', () => {
  let clock = 1_000;
  const now = () => clock;
  const setup = () => {
    const store = new CountingStore({ now });
    const errors: string[] = [];
    const tombstones = new TokenTombstones(
      100,
      { now },
      new FailSoftTokenStore(store, { storeError: (op) => errors.push(op) }),
    );
    return { store, tombstones, errors };
  };

  it('asks the store once per token, and remembers "no tombstone" until the token expires', async () => {
    const { store, tombstones } = setup();
    expect(await tombstones.clearedOnce('jwt-1', clock + 500)).toBe(true);
    expect(await tombstones.clearedOnce('jwt-1', clock + 500)).toBe(true);
    expect(store.reads).toBe(1);
    clock += 500;
    expect(await tombstones.clearedOnce('jwt-1', clock + 500)).toBe(true);
    expect(store.reads).toBe(2);
  });

  it('refuses a token another instance tombstoned, and one this process learnt of, without a read', async () => {
    const { store, tombstones } = setup();
    await store.tombstone('elsewhere', 60_000);
    expect(await tombstones.clearedOnce('elsewhere', clock + 60_000)).toBe(false);
    expect(await tombstones.clearedOnce('seen', clock + 60_000)).toBe(true);
    const reads = store.reads;
    tombstones.learn('seen', 60_000);
    expect(await tombstones.clearedOnce('seen', clock + 60_000)).toBe(false);
    expect(store.reads).toBe(reads);
  });

  it('does not refuse a token while the store cannot answer, and asks again once it can', async () => {
    const { store, tombstones, errors } = setup();
    store.failing = true;
    expect(await tombstones.clearedOnce('jwt-2', clock + 60_000)).toBe(true);
    expect(errors).toEqual(['isTombstoned']);
    store.failing = false;
    await store.tombstone('jwt-2', 60_000);
    expect(await tombstones.clearedOnce('jwt-2', clock + 60_000)).toBe(false);
  });

  it('asks the store again about a token it learnt was evicted once the bounded memory of that drops it', async () => {
    const store = new CountingStore({ now });
    const tombstones = new TokenTombstones(2, { now }, new FailSoftTokenStore(store, {}));
    expect(await tombstones.clearedOnce('victim', clock + 60_000)).toBe(true);
    await tombstones.bury('victim', 60_000);
    await tombstones.bury('flood-1', 60_000);
    await tombstones.bury('flood-2', 60_000);
    expect(tombstones.knows('victim')).toBe(false);
    expect(await tombstones.clearedOnce('victim', clock + 60_000)).toBe(false);
  });

  it('asks the store again after forgetCleared (announcements may have been missed)', async () => {
    const { store, tombstones } = setup();
    expect(await tombstones.clearedOnce('jwt-3', clock + 60_000)).toBe(true);
    await store.tombstone('jwt-3', 60_000);
    expect(await tombstones.clearedOnce('jwt-3', clock + 60_000)).toBe(true);
    tombstones.forgetCleared();
    expect(await tombstones.clearedOnce('jwt-3', clock + 60_000)).toBe(false);
  });
});
