import { describe, expect, it } from '@jest/globals';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import type { CachedToken, TokenStore } from '../store/token-store.interface.js';
import type { V3Clock } from './clock.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { LocalTokenCache } from './local-token.cache.js';
import { TokenFingerprinter } from './token-fingerprint.js';
import type { TokenSlot } from './token-slot.js';
import { TokenTombstones } from './token-tombstones.js';
import { TokenEvictor, UNKNOWN_TOKEN_TOMBSTONE_MS } from './token.evictor.js';

class ManualClock implements V3Clock {
  constructor(public current = 1_000_000) {}
  now(): number {
    return this.current;
  }
}

function setup() {
  const clock = new ManualClock();
  const fingerprinter = new TokenFingerprinter(
    'evictor-spec-hmac-key-0123456789abcdef',
    'http://issuer.test/token',
  );
  const store = new MemoryTokenStore({ now: () => clock.now() });
  const failSoft = new FailSoftTokenStore(store, {});
  const local = new LocalTokenCache(100, true, clock);
  const tombstones = new TokenTombstones(100, clock, failSoft);
  const evictor = new TokenEvictor(local, failSoft, tombstones, fingerprinter, clock);
  const token = (accessToken: string, lifeMs = 60_000): CachedToken => ({
    accessToken,
    tokenType: 'Bearer',
    issuedAt: clock.now(),
    expiresAt: clock.now() + lifeMs,
    clientId: 'svc',
    verifier: 'v',
  });
  const slot = (key: string, entry: CachedToken): TokenSlot => {
    const held: TokenSlot = {
      key,
      bearerKey: fingerprinter.bearerKey(entry.accessToken),
      token: entry,
      principal: {
        clientId: 'svc',
        accessToken: entry.accessToken,
        tokenType: 'Bearer',
        expiresAt: entry.expiresAt,
      },
      freshUntil: entry.expiresAt,
      refreshAt: Infinity,
    };
    local.hold(held);
    return held;
  };
  return { clock, fingerprinter, store, local, tombstones, evictor, token, slot };
}

describe('TokenEvictor', () => {
  it('drops every slot of the token, deletes its store entries and tombstones it for the rest of its life', async () => {
    const { clock, fingerprinter, store, local, tombstones, evictor, token, slot } = setup();
    const refused = token('refused', 60_000);
    const bearerKey = fingerprinter.bearerKey('refused');
    slot('c.identity', refused);
    slot(bearerKey, { ...refused, verifier: '' });
    const other = slot('c.other', token('other'));
    await store.set('c.identity', refused, 60_000);
    await store.set(bearerKey, refused, 60_000);

    await evictor.evict('refused');

    expect(local.slot('c.identity')).toBeUndefined();
    expect(local.slot(bearerKey)).toBeUndefined();
    expect(local.slot('c.other')).toBe(other);
    expect(await store.get('c.identity')).toBeUndefined();
    expect(await store.get(bearerKey)).toBeUndefined();
    expect(tombstones.knows(bearerKey)).toBe(true);
    expect(await store.isTombstoned(bearerKey)).toBe(true);
    clock.current += 59_999;
    expect(await store.isTombstoned(bearerKey)).toBe(true);
    clock.current += 2;
    expect(await store.isTombstoned(bearerKey)).toBe(false);
    expect(tombstones.knows(bearerKey)).toBe(false);
  });

  it('tombstones a token no cache knows for an hour', async () => {
    const { clock, fingerprinter, store, evictor } = setup();
    await evictor.evict('stranger');
    const bearerKey = fingerprinter.bearerKey('stranger');
    clock.current += UNKNOWN_TOKEN_TOMBSTONE_MS - 1;
    expect(await store.isTombstoned(bearerKey)).toBe(true);
  });

  it('tombstones a token no cache holds until the expiry it is given (a verified JWT), when that is later than an hour', async () => {
    const { clock, fingerprinter, store, evictor } = setup();
    const eightHours = 8 * 3_600_000;
    await evictor.evict('issuer-jwt', clock.current + eightHours);
    await evictor.evict('short-jwt', clock.current + 60_000);
    clock.current += eightHours - 1;
    expect(await store.isTombstoned(fingerprinter.bearerKey('issuer-jwt'))).toBe(true);
    expect(await store.isTombstoned(fingerprinter.bearerKey('short-jwt'))).toBe(false);
  });

  it('drops its copies of tokens other instances evicted', () => {
    const { fingerprinter, local, tombstones, token, slot } = setup();
    const announcements: ((tombstone: { key: string; ttlMs: number } | undefined) => void)[] = [];
    const announcing: Pick<TokenStore, 'onTombstone'> = {
      onTombstone: (listener) => void announcements.push(listener),
    };
    const store = new FailSoftTokenStore(announcing as TokenStore, {});
    new TokenEvictor(local, store, tombstones, fingerprinter, { now: () => 0 }).listen();
    slot('c.a', token('a'));
    slot('c.b', token('b'));

    announcements[0]({ key: fingerprinter.bearerKey('a'), ttlMs: 1000 });
    expect(local.slot('c.a')).toBeUndefined();
    expect(local.slot('c.b')).toBeDefined();
    expect(tombstones.knows(fingerprinter.bearerKey('a'))).toBe(true);
  });

  it('after missed announcements (a reconnect), asks the store again about tokens it had cleared', () => {
    const { fingerprinter, local, tombstones } = setup();
    const announcements: ((tombstone: { key: string; ttlMs: number } | undefined) => void)[] = [];
    const announcing: Pick<TokenStore, 'onTombstone'> = {
      onTombstone: (listener) => void announcements.push(listener),
    };
    const store = new FailSoftTokenStore(announcing as TokenStore, {});
    new TokenEvictor(local, store, tombstones, fingerprinter, { now: () => 0 }).listen();
    let forgotten = 0;
    tombstones.forgetCleared = () => void (forgotten += 1);
    announcements[0]({ key: fingerprinter.bearerKey('a'), ttlMs: 1000 });
    expect(forgotten).toBe(0);
    announcements[0](undefined);
    expect(forgotten).toBe(1);
  });

  it('after missed announcements, drops exactly the held tokens the store has tombstones for', async () => {
    const { fingerprinter, store, local, evictor, token, slot } = setup();
    slot('c.a', token('a'));
    slot('c.b', token('b'));
    await store.tombstone(fingerprinter.bearerKey('b'), 1000);

    await evictor.recheckHeld();

    expect(local.slot('c.a')).toBeDefined();
    expect(local.slot('c.b')).toBeUndefined();
  });
});
