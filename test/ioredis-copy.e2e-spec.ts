import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { Cluster as CopyCluster, Redis as CopyRedis } from 'ioredis-copy';
import { FAULT_HMAC_KEY, startModuleApp, type ModuleInstance } from './faults/fault-harness.js';
import { startRedisCluster, type PrivateRedisCluster } from './support/redis-cluster.js';
import { startRedisServer, type PrivateRedis } from './support/redis-server.js';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import { basic } from './support/v3-token-auth-app.js';

/**
 * Issue 10, item 8: an app whose ioredis is another copy than the module's (`ioredis-copy` is ioredis installed a
 * second time under another name) passes its own client; the module tells standalone from Cluster by `isCluster`, so
 * two instances share tokens through it on a private redis-server and a private 3-master Cluster. The option takes
 * the other copy's client without a cast (ioredis' types are structural).
 */
describe('a Redis client from a second copy of ioredis', () => {
  let server: TokenServer;
  let redis: PrivateRedis;
  let cluster: PrivateRedisCluster;
  const clients: (CopyRedis | CopyCluster)[] = [];
  const instances: ModuleInstance[] = [];

  beforeAll(async () => {
    server = await startTokenServer({ clients: { svc: 's3cret', other: 'other-secret' } });
    redis = await startRedisServer();
    cluster = await startRedisCluster(3);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(instances.splice(0).map((instance) => instance.close()));
    for (const client of clients.splice(0)) client.disconnect();
    await Promise.all([server?.close(), redis?.stop(), cluster?.stop()]);
  });

  async function twoInstances(client: () => CopyRedis | CopyCluster): Promise<ModuleInstance[]> {
    const started = [];
    for (let i = 0; i < 2; i++) {
      const own = client();
      clients.push(own);
      started.push(
        await startModuleApp({
          tokenUrl: server.tokenUrl,
          redis: { client: own },
          hmacKey: FAULT_HMAC_KEY,
          retry: { attempts: 1 },
        }),
      );
    }
    instances.push(...started);
    return started;
  }

  it('is no instance of the module’s ioredis classes, yet says what it is', () => {
    const standalone = new CopyRedis(redis.url, { lazyConnect: true });
    const clustered = new CopyCluster(
      cluster.nodes.map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })),
      { lazyConnect: true },
    );
    try {
      expect(standalone instanceof Redis).toBe(false);
      expect(clustered instanceof Cluster).toBe(false);
      expect(standalone.isCluster).toBe(false);
      expect(clustered.isCluster).toBe(true);
    } finally {
      standalone.disconnect();
      clustered.disconnect();
    }
  });

  it('standalone: one instance’s grant serves the other through the shared Redis', async () => {
    const [first, second] = await twoInstances(() => new CopyRedis(redis.url));
    const granted = await first.me(basic('svc', 's3cret'));
    expect(granted.status).toBe(200);
    const served = await second.me(basic('svc', 's3cret'));
    expect(served.status).toBe(200);
    expect(served.body?.accessToken).toBe(granted.body?.accessToken);
    expect(server.issuer.successfulGrants('svc')).toBe(1);
    expect(second.tokens.health().store).toBe('up');
    const keys = await clients[0].keys('*');
    expect(keys.length).toBeGreaterThan(0);
  });

  it('Cluster: one instance’s grant serves the other through the shared Cluster', async () => {
    const seeds = cluster.nodes.map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) }));
    const [first, second] = await twoInstances(() => new CopyCluster(seeds));
    const granted = await first.me(basic('other', 'other-secret'));
    expect(granted.status).toBe(200);
    const served = await second.me(basic('other', 'other-secret'));
    expect(served.status).toBe(200);
    expect(served.body?.accessToken).toBe(granted.body?.accessToken);
    expect(server.issuer.successfulGrants('other')).toBe(1);
  });
});
