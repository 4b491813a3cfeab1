import { describe, it, expect } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { createRedisClient, parseHostPorts, reconnectDelay, redactRedisUrl } from './redis-client.factory.js';

function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

describe('createRedisClient', () => {
  it('uses an existing client as is and does not own it', async () => {
    const client = new Redis({ lazyConnect: true });
    try {
      const handle = await createRedisClient({ client, url: 'redis://ignored:1' });
      expect(handle.client).toBe(client);
      expect(handle.owned).toBe(false);
      expect(client.listenerCount('error')).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('rejects a URL that is not redis:// or rediss://, without echoing its password', async () => {
    for (const url of ['http://user:hunter2@host:6379', 'localhost:6379', 'not a url', 'redis//host']) {
      let message = '';
      try {
        await createRedisClient({ url });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^REDIS_URL is not a valid redis:\/\/ or rediss:\/\/ URL: /);
      expect(message).not.toContain('hunter2');
    }
  });

  it('creates an owned client that fails fast while Redis is down and reports errors without the password', async () => {
    const errors: string[] = [];
    const { client, owned } = await createRedisClient(
      { url: 'redis://app:hunter2@127.0.0.1:1/0', commandTimeoutMs: 250, options: { disconnectTimeout: 50 } },
      { storeError: (operation, message) => errors.push(`${operation}: ${message}`) },
    );
    try {
      expect(owned).toBe(true);
      expect(client).toBeInstanceOf(Redis);
      const options = (client as Redis).options;
      expect(options).toMatchObject({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 250,
        connectTimeout: 1000,
        lazyConnect: false,
      });
      await waitFor(() => errors.length > 0);
      expect(errors[0]).toMatch(/^connection: /);
      expect(errors.join('\n')).not.toContain('hunter2');
      const started = Date.now();
      await expect(client.get('k')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      client.disconnect();
    }
  });

  it('creates a Cluster from seed nodes and a sentinel client from sentinels', async () => {
    const cluster = await createRedisClient({
      clusterNodes: ['127.0.0.1:1', '127.0.0.1:2'],
      options: { disconnectTimeout: 50 },
    });
    const sentinel = await createRedisClient({
      sentinel: { name: 'mymaster', sentinels: ['127.0.0.1:1'] },
      options: { disconnectTimeout: 50 },
    });
    try {
      expect(cluster.client).toBeInstanceOf(Cluster);
      expect(cluster.owned).toBe(true);
      expect((cluster.client as Cluster).options.enableOfflineQueue).toBe(false);
      expect((cluster.client as Cluster).options.redisOptions).toMatchObject({ commandTimeout: 500 });
      expect((cluster.client as Cluster).options.redisOptions).not.toHaveProperty('lazyConnect');
      expect((sentinel.client as Redis).options).toMatchObject({
        name: 'mymaster',
        sentinels: [{ host: '127.0.0.1', port: 1 }],
        enableOfflineQueue: false,
      });
    } finally {
      cluster.client.disconnect();
      sentinel.client.disconnect();
    }
    // ioredis gives the sockets it opened to the sentinels 2 s to close before it destroys them.
    await new Promise((resolve) => setTimeout(resolve, 2200));
  });

  it('needs one way to reach Redis', async () => {
    await expect(createRedisClient({})).rejects.toThrow(/one of client, url, clusterNodes or sentinel/);
  });
});

describe('reconnectDelay', () => {
  it('backs off and is capped at 2 s, forever', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 50, 10_000].map(reconnectDelay);
    expect(delays[0]).toBe(50);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]);
    expect(Math.max(...delays)).toBe(2000);
    expect(delays.at(-1)).toBe(2000);
  });
});

describe('parseHostPorts', () => {
  it('parses host:port (IPv6 in brackets too) and names a bad entry', () => {
    expect(parseHostPorts(['redis-1:6379', ' 10.0.0.2:7000', '[::1]:6380'], 'X')).toEqual([
      { host: 'redis-1', port: 6379 },
      { host: '10.0.0.2', port: 7000 },
      { host: '::1', port: 6380 },
    ]);
    expect(() => parseHostPorts(['redis-1'], 'REDIS_CLUSTER_NODES')).toThrow(
      'REDIS_CLUSTER_NODES entry "redis-1" is not host:port',
    );
    expect(() => parseHostPorts(['h:70000'], 'X')).toThrow(/not host:port/);
  });
});

describe('redactRedisUrl', () => {
  it('hides passwords in parseable and unparseable URLs', () => {
    expect(redactRedisUrl('redis://app:hunter2@host:6379/0')).toBe('redis://app:***@host:6379/0');
    expect(redactRedisUrl('redis ://app:hunter2@host')).not.toContain('hunter2');
    expect(redactRedisUrl('redis://host:6379')).toBe('redis://host:6379');
  });
});
