import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisTokenStore, TokenSealer, type CachedToken } from 'nestjs-v3-token-auth';
import { startRedisServer, type PrivateRedis } from './support/redis-server.js';
import { cachedToken as token } from './support/cached-token.js';
import { socketWritesDuring } from './support/socket-writes.js';
import { sleep, waitFor } from './support/wait.js';

/** The value `read` settles on: polls until it equals `expected` or 2 s pass, then answers the last value. */
async function eventually<T>(read: () => Promise<T>, expected: T): Promise<T> {
  const deadline = Date.now() + 2000;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await sleep(20);
    value = await read();
  }
  return value;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

function flipChar(text: string, index: number): string {
  return text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1);
}

describe('RedisTokenStore against a private redis-server', () => {
  let server: PrivateRedis;
  let raw: Redis;
  let store: RedisTokenStore;
  let sealed: RedisTokenStore;
  const errors: string[] = [];
  const observer = {
    storeError: (operation: string, message: string) => errors.push(`${operation}: ${message}`),
  };
  const sealer = new TokenSealer([{ id: 'k1', key: randomBytes(32) }]);

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url);
    store = await RedisTokenStore.create({ redis: { url: server.url }, keyPrefix: 'e2e:', observer });
    sealed = await RedisTokenStore.create({
      redis: { url: server.url },
      keyPrefix: 'sealed:',
      sealer,
      observer,
    });
    await waitFor(() => store.isHealthy() && sealed.isHealthy());
  });

  afterAll(async () => {
    await store?.close();
    await sealed?.close();
    raw?.disconnect();
    await server?.stop();
  });

  /** Runs `test` with a second store on the same Redis and prefix, as another instance holds one. */
  const withSecondStore = async (test: (other: RedisTokenStore) => Promise<void>): Promise<void> => {
    const other = await RedisTokenStore.create({ redis: { url: server.url }, keyPrefix: 'e2e:' });
    try {
      await waitFor(() => other.isHealthy());
      await test(other);
    } finally {
      await other.close();
    }
  };

  it('round-trips an entry and misses an unknown key', async () => {
    const entry = token('at-round-trip');
    await store.set('rt', entry, 60_000);
    expect(await store.get('rt')).toEqual(entry);
    expect(await store.get('never-set')).toBeUndefined();
  });

  it('keeps only the CachedToken fields', async () => {
    const entry = { ...token('at-extra'), password: 'must-not-be-stored' } as CachedToken;
    await store.set('extra', entry, 60_000);
    expect(await raw.get('e2e:{extra}')).not.toContain('must-not-be-stored');
    expect(await store.get('extra')).toEqual(
      token('at-extra', {
        issuedAt: entry.issuedAt,
        expiresAt: entry.expiresAt,
        refreshExpiresAt: entry.refreshExpiresAt,
      }),
    );
  });

  it('names keys <prefix>{<key>} and locks <prefix>{<key>}:lock', async () => {
    await store.set('fp-abc', token('at-keys'), 60_000);
    const lock = await store.acquireLock('fp-abc', 5_000);
    expect(await raw.exists('e2e:{fp-abc}')).toBe(1);
    expect(await raw.exists('e2e:{fp-abc}:lock')).toBe(1);
    expect(await raw.keys('e2e:*fp-abc*')).toEqual(
      expect.arrayContaining(['e2e:{fp-abc}', 'e2e:{fp-abc}:lock']),
    );
    await lock!.release();
    expect(await raw.exists('e2e:{fp-abc}:lock')).toBe(0);
  });

  it('sets the Redis TTL from ttlMs, and a short-lived entry disappears by itself', async () => {
    await store.set('ttl', token('at-ttl'), 60_000);
    const pttl = await raw.pttl('e2e:{ttl}');
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);

    await store.set('short', token('at-short'), 150);
    expect((await store.get('short'))?.accessToken).toBe('at-short');
    await sleep(300);
    expect(await store.get('short')).toBeUndefined();
    expect(await raw.exists('e2e:{short}')).toBe(0);
  });

  it('stores nothing for a non-positive ttl', async () => {
    await store.set('zero', token('at-zero'), 0);
    await store.set('negative', token('at-negative'), -1);
    expect(await raw.exists('e2e:{zero}', 'e2e:{negative}')).toBe(0);
  });

  it('seals entries: Redis holds no plaintext token, and the store opens them', async () => {
    const entry = token('eyJ.plaintext-access-token');
    await sealed.set('s1', entry, 60_000);
    const value = (await raw.get('sealed:{s1}'))!;
    expect(value).toMatch(/^[0-9a-f]{64}\|v1\.k1\./);
    for (const secret of [entry.accessToken, entry.refreshToken!, 'plaintext', 'hmac-of-secret', 'alice']) {
      expect(value).not.toContain(secret);
    }
    expect(await sealed.get('s1')).toEqual(entry);
  });

  it('treats a tampered sealed entry as a miss and removes it', async () => {
    await sealed.set('tamper', token('at-tamper'), 60_000);
    const value = (await raw.get('sealed:{tamper}'))!;
    await raw.set('sealed:{tamper}', flipChar(value, value.length - 3), 'KEEPTTL');
    errors.length = 0;
    expect(await sealed.get('tamper')).toBeUndefined();
    expect(errors.some((e) => e.startsWith('get: '))).toBe(true);
    expect(await eventually(() => raw.exists('sealed:{tamper}'), 0)).toBe(0);
  });

  it('does not open a sealed entry moved to another key, nor sealed data without a sealer', async () => {
    await sealed.set('origin', token('at-moved'), 60_000);
    const value = (await raw.get('sealed:{origin}'))!;
    await raw.set('sealed:{elsewhere}', value, 'PX', 60_000);
    expect(await sealed.get('elsewhere')).toBeUndefined();
    await raw.set('e2e:{sealed-copy}', value, 'PX', 60_000);
    expect(await store.get('sealed-copy')).toBeUndefined();
    expect((await sealed.get('origin'))?.accessToken).toBe('at-moved');
  });

  it('decodes the same stored bytes once (one shared, frozen entry); a changed or tampered value afresh', async () => {
    for (const [s, prefix] of [
      [store, 'e2e:'],
      [sealed, 'sealed:'],
    ] as const) {
      await s.set('memo', token('at-memo-1'), 60_000);
      const first = await s.get('memo');
      expect(first?.accessToken).toBe('at-memo-1');
      expect(await s.get('memo')).toBe(first);
      expect((await s.getWithTombstone('memo', 'b.memo')).entry).toBe(first);
      expect(Object.isFrozen(first)).toBe(true);

      await s.set('memo', token('at-memo-2'), 60_000);
      const second = await s.get('memo');
      expect(second?.accessToken).toBe('at-memo-2');
      expect(second).not.toBe(first);

      // A forged fingerprint, another token under the old fingerprint, a flipped seal: never the kept entry.
      const value = (await raw.get(`${prefix}{memo}`))!;
      await raw.set(`${prefix}{memo}`, flipChar(value, 0), 'KEEPTTL');
      expect(await s.get('memo')).toBeUndefined();
      await s.set('memo', token('at-memo-2'), 60_000);
      expect((await s.get('memo'))?.accessToken).toBe('at-memo-2');
      const again = (await raw.get(`${prefix}{memo}`))!;
      const forged =
        s === sealed ? flipChar(again, again.length - 3) : again.replace('at-memo-2', 'at-memo-3');
      expect(forged).not.toBe(again);
      await raw.set(`${prefix}{memo}`, forged, 'KEEPTTL');
      expect(await s.get('memo')).toBeUndefined();
    }
  });

  it('treats corrupt or wrongly shaped entries as misses', async () => {
    const fp = '0'.repeat(64);
    await raw.set('e2e:{garbage}', 'not json at all', 'PX', 60_000);
    await raw.set('e2e:{shape}', `${fp}|{"accessToken":42}`, 'PX', 60_000);
    const good = JSON.stringify(token('at-mismatch'));
    await raw.set('e2e:{mismatch}', `${fp}|${good}`, 'PX', 60_000);
    expect(await store.get('garbage')).toBeUndefined();
    expect(await store.get('shape')).toBeUndefined();
    expect(await store.get('mismatch')).toBeUndefined();
    expect(await eventually(() => raw.exists('e2e:{garbage}', 'e2e:{shape}', 'e2e:{mismatch}'), 0)).toBe(0);
  });

  it('reads an entry with a tombstone in one MGET, sealed or not; an unreadable entry is a miss it removes', async () => {
    const calls = async (): Promise<Record<string, number>> => {
      const stats = await raw.info('commandstats');
      const of = (command: string) =>
        Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      return { mget: of('mget'), get: of('get'), exists: of('exists') };
    };
    for (const s of [store, sealed]) {
      const entry = token('at-with-tombstone');
      await s.set('with-tombstone', entry, 60_000);
      const before = await calls();
      expect(await s.getWithTombstone('with-tombstone', 'b.with-tombstone')).toEqual({
        entry,
        tombstoned: false,
      });
      await s.tombstone('b.with-tombstone', 60_000);
      expect(await s.getWithTombstone('with-tombstone', 'b.with-tombstone')).toEqual({
        entry,
        tombstoned: true,
      });
      expect(await s.getWithTombstone('never-set', 'b.with-tombstone')).toEqual({
        entry: undefined,
        tombstoned: true,
      });
      const after = await calls();
      expect({
        mget: after.mget - before.mget,
        get: after.get - before.get,
        exists: after.exists - before.exists,
      }).toEqual({ mget: 3, get: 0, exists: 0 });
    }
    await raw.set('e2e:{unreadable-with-tombstone}', 'not json at all', 'PX', 60_000);
    expect(await store.getWithTombstone('unreadable-with-tombstone', 'b.none')).toEqual({
      entry: undefined,
      tombstoned: false,
    });
    expect(await eventually(() => raw.exists('e2e:{unreadable-with-tombstone}'), 0)).toBe(0);
  });

  it('compare-and-deletes: only while the entry still holds that access token', async () => {
    for (const s of [store, sealed]) {
      await s.set('cad', token('at-current'), 60_000);
      expect(await s.delete('cad', 'at-previous')).toBe(false);
      expect((await s.get('cad'))?.accessToken).toBe('at-current');
      expect(await s.delete('cad', 'at-current')).toBe(true);
      expect(await s.get('cad')).toBeUndefined();
      expect(await s.delete('cad', 'at-current')).toBe(false);
      await s.set('cad', token('at-any'), 60_000);
      expect(await s.delete('cad')).toBe(true);
      expect(await s.delete('cad')).toBe(false);
    }
  });

  it('grants a lock to one holder across store instances; renew extends it; only the owner releases', async () => {
    await withSecondStore(async (other) => {
      const mine = await store.acquireLock('lock-1', 300);
      expect(mine).toBeDefined();
      expect(await other.acquireLock('lock-1', 300)).toBeUndefined();

      expect(await mine!.renew(10_000)).toBe(true);
      expect(await raw.pttl('e2e:{lock-1}:lock')).toBeGreaterThan(9_000);
      await mine!.release();
      const theirs = await other.acquireLock('lock-1', 200);
      expect(theirs).toBeDefined();

      await sleep(300);
      const next = await store.acquireLock('lock-1', 10_000);
      expect(next).toBeDefined();
      expect(await theirs!.renew(10_000)).toBe(false);
      await theirs!.release();
      expect(await raw.exists('e2e:{lock-1}:lock')).toBe(1);
      expect(await other.acquireLock('lock-1', 300)).toBeUndefined();
      await next!.release();
      expect(await raw.exists('e2e:{lock-1}:lock')).toBe(0);
    });
  });

  it("tells every store a lock's lease left, which the holder's renewal extends, and nothing once released", async () => {
    await withSecondStore(async (other) => {
      expect(await other.lockTtlMs('lock-ttl')).toBeUndefined();
      const mine = await store.acquireLock('lock-ttl', 2_000);
      const left = await other.lockTtlMs('lock-ttl');
      expect(left).toBeGreaterThan(1_000);
      expect(left).toBeLessThanOrEqual(2_000);
      await mine!.renew(10_000);
      expect(await other.lockTtlMs('lock-ttl')).toBeGreaterThan(9_000);
      await mine!.release();
      expect(await other.lockTtlMs('lock-ttl')).toBeUndefined();
      await raw.set('e2e:{lock-ttl}:lock', 'no-lease');
      expect(await other.lockTtlMs('lock-ttl')).toBeUndefined();
      await raw.del('e2e:{lock-ttl}:lock');
    });
  });

  it('lets exactly one of many concurrent contenders take a lock', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.acquireLock('contended', 5_000)),
    );
    expect(results.filter((lock) => lock !== undefined)).toHaveLength(1);
    await results.find((lock) => lock !== undefined)!.release();
  });

  it('writes the commands of one event-loop turn in one socket write, in order, and answers each', async () => {
    const entries = Array.from({ length: 40 }, (_, i) => token(`at-turn-${i}`));
    const uncoalesced = await socketWritesDuring([raw.stream], () =>
      Promise.all(entries.map((entry, i) => raw.set(`e2e:{turn-raw-${i}}`, entry.accessToken))),
    );
    let answers: unknown[] = [];
    const coalesced = await socketWritesDuring([(store.client as Redis).stream], async () => {
      answers = await Promise.all(
        entries.flatMap((entry, i) => [store.set(`turn-${i}`, entry, 60_000), store.get(`turn-${i}`)]),
      );
    });

    expect(answers.filter((_, i) => i % 2 === 1)).toEqual(entries);
    expect(uncoalesced).toBe(entries.length);
    expect(coalesced).toBe(1);
  });

  it('counts wrong secrets in a window every store shares, and keeps an exempt tag beside them', async () => {
    await withSecondStore(async (other) => {
      expect(await store.throttleState('flood')).toEqual({ failures: 0, resetInMs: 0 });

      await store.countFailure('flood', 1000);
      await other.countFailure('flood', 60_000);
      await store.rememberGood('flood', 'tag-of-the-right-secret', 5000);

      const state = await other.throttleState('flood');
      expect(state.failures).toBe(2);
      expect(state.resetInMs).toBeGreaterThan(500);
      expect(state.resetInMs).toBeLessThanOrEqual(1000);
      expect(state.good).toBe('tag-of-the-right-secret');
      expect(store.throttleKeys('flood')).toEqual({
        failures: 'e2e:{flood}:failures',
        good: 'e2e:{flood}:good',
      });
      expect(await raw.pttl('e2e:{flood}:good')).toBeGreaterThan(4000);

      await sleep(1100);
      expect(await store.throttleState('flood')).toEqual({
        failures: 0,
        resetInMs: 0,
        good: 'tag-of-the-right-secret',
      });
    });
  });

  it('counts in a window every store shares, in one round trip that answers the count and the time left', async () => {
    await withSecondStore(async (other) => {
      const first = await store.countInWindow('cold.address', 20_000);
      const counts = await Promise.all([
        other.countInWindow('cold.address', 60_000),
        store.countInWindow('cold.address', 20_000),
        other.countInWindow('cold.address', 60_000),
      ]);
      expect(first.count).toBe(1);
      expect(counts.map((count) => count.count).sort()).toEqual([2, 3, 4]);
      // The first count opened the window; later ones (another store's, with a longer window) do not move its end.
      expect([first, ...counts].every((count) => count.resetInMs > 0 && count.resetInMs <= 20_000)).toBe(
        true,
      );
      expect(store.countKey('cold.address')).toBe('e2e:{cold.address}:count');
      // The window ends (forced here rather than waited for): counting starts again.
      await raw.pexpire('e2e:{cold.address}:count', 1);
      await sleep(20);
      expect((await other.countInWindow('cold.address', 20_000)).count).toBe(1);
      // A count that lost its expiry somehow gets one back on the next count: never a window that does not end.
      await raw.persist('e2e:{cold.address}:count');
      expect((await store.countInWindow('cold.address', 20_000)).resetInMs).toBeGreaterThan(0);
    });
  });

  it('keeps one re-grant window per key that every store shares: one re-grant in it, over all of them', async () => {
    await withSecondStore(async (other) => {
      expect(await store.spendReauthWindow('refused')).toEqual({ open: false });

      await store.openReauthWindow('refused', 20_000);
      // A second refusal leaves the open window (and its spent or unspent re-grant) as it is.
      await other.openReauthWindow('refused', 60_000);
      expect(store.reauthWindowKey('refused')).toBe('e2e:{refused}:reauth');
      expect(await raw.pttl('e2e:{refused}:reauth')).toBeLessThanOrEqual(20_000);

      const spends = await Promise.all([
        other.spendReauthWindow('refused'),
        store.spendReauthWindow('refused'),
        other.spendReauthWindow('refused'),
      ]);
      expect(spends.filter((spend) => spend.open && spend.regrant)).toHaveLength(1);
      expect(spends.every((spend) => spend.open && spend.resetInMs > 0 && spend.resetInMs <= 20_000)).toBe(
        true,
      );
      expect(await store.spendReauthWindow('other-credentials')).toEqual({ open: false });

      // A refund gives the open window its one re-grant back, whoever spent it, and keeps its end.
      await other.refundReauthWindow('refused');
      expect(await store.spendReauthWindow('refused')).toMatchObject({ open: true, regrant: true });
      expect(await other.spendReauthWindow('refused')).toMatchObject({ open: true, regrant: false });
      await store.refundReauthWindow('never-opened');
      expect(await raw.exists('e2e:{never-opened}:reauth')).toBe(0);

      await raw.pexpire('e2e:{refused}:reauth', 1);
      await sleep(20);
      expect(await other.spendReauthWindow('refused')).toEqual({ open: false });
    });
  });

  it('reloads its scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    await store.set('flush', token('at-flush'), 60_000);
    await raw.script('FLUSH');
    expect(await store.delete('flush', 'at-flush')).toBe(true);
    expect(await raw.exists('e2e:{flush}')).toBe(0);
  });

  it('never disconnects a client it was given, and quits one it created', async () => {
    const given = new Redis(server.url);
    try {
      const borrowing = await RedisTokenStore.create({ redis: { client: given } });
      expect(borrowing.client).toBe(given);
      await waitFor(() => borrowing.isHealthy());
      await borrowing.set('borrowed', token('at-borrowed'), 60_000);
      await borrowing.close();
      expect(given.status).toBe('ready');
      expect(await given.ping()).toBe('PONG');

      const owning = await RedisTokenStore.create({ redis: { url: server.url } });
      await waitFor(() => owning.isHealthy());
      await owning.close();
      await waitFor(() => owning.client.status === 'end', 2000);
      expect(owning.isHealthy()).toBe(false);
      expect(await owning.get('borrowed')).toBeUndefined();
    } finally {
      given.disconnect();
    }
  });
});

describe('RedisTokenStore through a Redis outage', () => {
  let server: PrivateRedis;
  let store: RedisTokenStore;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    store = await RedisTokenStore.create({
      redis: { url: server.url },
      observer: { storeError: (operation, message) => errors.push(`${operation}: ${message}`) },
    });
    await waitFor(() => store.isHealthy());
  });

  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it("listens on a duplicate of the client with ioredis' own resubscription off (the store resubscribes, catching)", async () => {
    const given = new Redis(server.url);
    const duplicate = given.duplicate.bind(given);
    const overrides: unknown[] = [];
    given.duplicate = (override) => {
      overrides.push(override);
      return duplicate(override);
    };
    const borrowing = await RedisTokenStore.create({ redis: { client: given } });
    try {
      borrowing.onTombstone(() => undefined);
      expect(overrides).toEqual([{ autoResubscribe: false }]);
    } finally {
      await borrowing.close();
      given.disconnect();
    }
  });

  it('keeps announcing tombstones after Redis restarts, with no unhandled rejection from resubscribing', async () => {
    const heard: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      store.onTombstone((tombstone) => {
        if (tombstone) heard.push(tombstone.key);
      });
      await waitFor(() => store.isHealthy());
      for (let i = 0; i < 3; i++) {
        await server.kill();
        await server.restart();
        await waitFor(() => store.isHealthy(), 8000);
      }
      // The subscription is made again by the store itself on every reconnection.
      for (let tries = 0; tries < 40 && !heard.includes('after-restarts'); tries++) {
        await store.tombstone('after-restarts', 60_000);
        await sleep(100);
      }
      expect(heard).toContain('after-restarts');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('answers misses quickly without throwing while Redis is down, and recovers by itself', async () => {
    await store.set('k', token('at-before'), 60_000);
    expect((await store.get('k'))?.accessToken).toBe('at-before');

    await server.kill();
    const first = await timed(() => store.get('k'));
    expect(first.value).toBeUndefined();
    expect(first.ms).toBeLessThan(1000);

    await waitFor(() => !store.isHealthy(), 2000);
    const burst = await timed(() =>
      Promise.all([
        ...Array.from({ length: 25 }, () => store.get('k')),
        store.set('k', token('at-during'), 60_000).then(() => 'set'),
        store.delete('k', 'at-before'),
      ]),
    );
    expect(burst.value.slice(0, 25)).toEqual(Array.from({ length: 25 }, () => undefined));
    expect(burst.value.slice(25)).toEqual(['set', false]);
    expect(burst.ms).toBeLessThan(1000);

    const lock = await timed(() =>
      store.acquireLock('k', 1_000).then(
        () => 'acquired',
        (error: Error) => error,
      ),
    );
    expect(lock.value).toBeInstanceOf(Error);
    expect((lock.value as Error).name).toBe('TokenStoreUnavailableError');
    // The re-grant window cannot be asked either: its caller keeps the window in process instead.
    await expect(store.spendReauthWindow('k')).rejects.toThrow('Redis is not connected');
    await expect(store.countInWindow('k', 1000)).rejects.toThrow('Redis is not connected');
    await expect(store.openReauthWindow('k', 1000)).rejects.toThrow('Redis is not connected');
    expect(lock.ms).toBeLessThan(1000);
    expect(errors.length).toBeGreaterThan(0);

    await server.restart();
    await waitFor(() => store.isHealthy(), 8000);
    await store.set('k', token('at-after'), 60_000);
    expect((await store.get('k'))?.accessToken).toBe('at-after');
    expect(await store.acquireLock('k-lock', 1_000)).toBeDefined();
  });
});

describe('RedisTokenStore closed while its Redis is down', () => {
  /** How many ref'd timers the process holds: each keeps it from exiting. */
  const timers = (): number => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;

  it('leaves no timer that keeps the process alive: an app closed during an outage can exit at once', async () => {
    const server = await startRedisServer();
    const before = timers();
    const store = await RedisTokenStore.create({ redis: { url: server.url } });
    store.onTombstone(() => undefined);
    await waitFor(() => store.isHealthy());
    await server.stop();
    await waitFor(() => store.client.status !== 'ready');
    await store.close();
    // ioredis ends each connection it closes and destroys it when it has not closed within `disconnectTimeout`;
    // a connection that had already closed never will, so that timer runs out in full.
    await sleep(400);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
