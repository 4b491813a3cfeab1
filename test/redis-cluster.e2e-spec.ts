import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { RedisTokenStore, TokenSealer, type TokenLock } from 'nestjs-v3-token-auth';
import { startRedisCluster, type PrivateRedisCluster } from './support/redis-cluster.js';
import { cachedToken as token } from './support/cached-token.js';
import { socketWritesDuring } from './support/socket-writes.js';
import { waitFor } from './support/wait.js';

describe('RedisTokenStore on a 3-master Redis Cluster', () => {
  const keys = Array.from({ length: 120 }, (_, i) => `fingerprint-${i}`);
  let cluster: PrivateRedisCluster;
  let nodes: Redis[];
  let store: RedisTokenStore;
  let other: RedisTokenStore;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    nodes = cluster.nodes.map((node) => new Redis(Number(node.split(':')[1]), '127.0.0.1'));
    const sealer = new TokenSealer([{ id: 'k1', key: randomBytes(32) }]);
    store = await RedisTokenStore.create({ redis: { clusterNodes: cluster.nodes }, sealer });
    other = await RedisTokenStore.create({ redis: { clusterNodes: cluster.nodes }, sealer });
    await waitFor(() => store.isHealthy() && other.isHealthy(), 10_000);
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await other?.close();
    for (const node of nodes ?? []) node.disconnect();
    await cluster?.stop();
  });

  it('stores and reads many keys, spread over every master', async () => {
    await Promise.all(keys.map((key) => store.set(key, token(`at-${key}`), 60_000)));
    const read = await Promise.all(keys.map((key) => other.get(key)));
    expect(read.map((entry) => entry?.accessToken)).toEqual(keys.map((key) => `at-${key}`));
    const perNode = await Promise.all(nodes.map((node) => node.dbsize()));
    expect(perNode.every((count) => count > 0)).toBe(true);
    expect(perNode.reduce((a, b) => a + b, 0)).toBe(keys.length);
  });

  it('writes the commands of one event-loop turn in one write per node', async () => {
    const plain = new Cluster(
      cluster.nodes.map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })),
    );
    try {
      await waitFor(() => plain.status === 'ready', 10_000);
      await Promise.all(keys.map((key) => plain.get(store.entryKey(key))));
      const socketsOf = (client: Cluster) => client.nodes('all').map((node) => node.stream);
      const uncoalesced = await socketWritesDuring(socketsOf(plain), () =>
        Promise.all(keys.map((key) => plain.get(store.entryKey(key)))),
      );
      let read: unknown[] = [];
      const coalesced = await socketWritesDuring(socketsOf(other.client as Cluster), async () => {
        read = await Promise.all(keys.map((key) => other.get(key)));
      });

      expect(read.map((entry) => (entry as { accessToken?: string } | undefined)?.accessToken)).toEqual(
        keys.map((key) => `at-${key}`),
      );
      expect(uncoalesced).toBe(keys.length);
      expect(coalesced).toBeLessThanOrEqual(nodes.length);
    } finally {
      plain.disconnect();
    }
  });

  it('puts an entry and its lock in the same hash slot', async () => {
    for (const key of keys.slice(0, 10)) {
      const [entrySlot, lockSlot] = await Promise.all([
        nodes[0].cluster('KEYSLOT', store.entryKey(key)),
        nodes[0].cluster('KEYSLOT', store.lockKey(key)),
      ]);
      expect(lockSlot).toBe(entrySlot);
    }
  });

  it('reads a bearer entry with its own tombstone in one MGET, and an entry with a tombstone of another slot', async () => {
    await store.set('b.bearer-slot', token('at-bearer-slot'), 60_000);
    await other.tombstone('b.bearer-slot', 60_000);
    const bearer = await store.getWithTombstone('b.bearer-slot', 'b.bearer-slot');
    expect(bearer).toMatchObject({ entry: { accessToken: 'at-bearer-slot' }, tombstoned: true });
    // A credentials entry whose slot differs from the tombstone's: a cross-slot MGET would fail; it must not.
    let credentials = keys[0];
    for (const key of keys) {
      const [entrySlot, tombstoneSlot] = await Promise.all([
        nodes[0].cluster('KEYSLOT', store.entryKey(key)),
        nodes[0].cluster('KEYSLOT', store.tombstoneKey('b.bearer-slot')),
      ]);
      credentials = key;
      if (entrySlot !== tombstoneSlot) break;
    }
    await store.set(credentials, token(`at-${credentials}`), 60_000);
    expect(await other.getWithTombstone(credentials, 'b.bearer-slot')).toMatchObject({
      entry: { accessToken: `at-${credentials}` },
      tombstoned: true,
    });
    expect(await other.getWithTombstone(credentials, 'b.never-evicted')).toMatchObject({
      entry: { accessToken: `at-${credentials}` },
      tombstoned: false,
    });
    await store.delete('b.bearer-slot');
    await (store.client as Cluster).del(store.tombstoneKey('b.bearer-slot'));
  });

  it('compare-and-deletes on every node (scripts load on each master)', async () => {
    const stale = await Promise.all(keys.map((key) => store.delete(key, 'at-someone-else')));
    expect(stale.every((deleted) => deleted === false)).toBe(true);
    const deleted = await Promise.all(keys.map((key) => store.delete(key, `at-${key}`)));
    expect(deleted.every(Boolean)).toBe(true);
    expect(await Promise.all(keys.map((key) => other.get(key)))).toEqual(keys.map(() => undefined));
    const perNode = await Promise.all(nodes.map((node) => node.dbsize()));
    expect(perNode).toEqual([0, 0, 0]);
  });

  it('grants each lock to one store only; renew and release work by owner on every slot', async () => {
    const mine = await Promise.all(keys.map((key) => store.acquireLock(key, 10_000)));
    expect(mine.every((lock) => lock !== undefined)).toBe(true);
    const theirs = await Promise.all(keys.map((key) => other.acquireLock(key, 10_000)));
    expect(theirs.every((lock) => lock === undefined)).toBe(true);

    const held = mine as TokenLock[];
    expect((await Promise.all(held.map((lock) => lock.renew(20_000)))).every(Boolean)).toBe(true);
    await Promise.all(held.map((lock) => lock.release()));

    const after = await Promise.all(keys.map((key) => other.acquireLock(key, 10_000)));
    expect(after.every((lock) => lock !== undefined)).toBe(true);
    expect((await Promise.all(held.map((lock) => lock.renew(1_000)))).some(Boolean)).toBe(false);
    await Promise.all(held.map((lock) => lock.release()));
    expect((await Promise.all(nodes.map((node) => node.dbsize()))).reduce((a, b) => a + b, 0)).toBe(
      keys.length,
    );
    await Promise.all((after as TokenLock[]).map((lock) => lock.release()));
    expect((await Promise.all(nodes.map((node) => node.dbsize()))).reduce((a, b) => a + b, 0)).toBe(0);
  });
});
