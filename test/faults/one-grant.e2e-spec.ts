import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisTokenStore, type V3TokenAuthModuleOptions } from 'nestjs-v3-token-auth';
import { TokenFingerprinter } from '../../libs/v3-token-auth/src/core/token-fingerprint.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic, sleep } from '../support/v3-token-auth-app.js';
import {
  CountingObserver,
  FAULT_HMAC_KEY,
  startGateway,
  startModuleApp,
  type GatewayInstance,
  type ModuleInstance,
} from './fault-harness.js';

const CLIENTS: Record<string, string> = {
  'many-instances': 'mi-secret-1',
  'proxied-cold': 'pc-secret-2',
  'long-grant': 'lg-secret-3',
  'dead-holder': 'dh-secret-4',
  'slow-issuer': 'si-secret-5',
  'endless-holder': 'eh-secret-6',
};

/**
 * Issue 4, item 1: one grant across instances. Real gateway instances (and module apps, for lock timing options)
 * share one private redis-server; the sandbox token endpoint counts every grant.
 */
describe('faults: one grant across instances sharing Redis', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let raw: Redis;
  const closers: (() => Promise<void>)[] = [];

  const gateway = async (): Promise<GatewayInstance> => {
    const instance = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
    });
    closers.push(() => instance.close());
    return instance;
  };

  const moduleApp = async (options: Partial<V3TokenAuthModuleOptions>): Promise<ModuleInstance> => {
    const app = await startModuleApp({
      tokenUrl: issuer.tokenUrl,
      redis: { url: redis.url },
      hmacKey: FAULT_HMAC_KEY,
      keyPrefix: 'faults-lock:',
      retry: { attempts: 1 },
      ...options,
    });
    closers.push(() => app.close());
    return app;
  };

  /** The Redis key of `clientId`'s grant lock, as the module computes it. */
  const lockKeyOf = (app: ModuleInstance, clientId: string): string => {
    const fingerprinter = app.app.get(TokenFingerprinter, { strict: false });
    const store = app.store as RedisTokenStore;
    const key = fingerprinter.credentialsKey({
      grantType: 'client_credentials',
      clientId,
      clientSecret: CLIENTS[clientId],
    });
    return store.lockKey(key);
  };

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([startTokenServer({ clients: CLIENTS }), startRedisServer()]);
    raw = new Redis(redis.url);
  });

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    issuer.issuer.reset();
  });

  afterAll(async () => {
    raw.disconnect();
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('three gateway instances, 30 concurrent cold POST /token requests: exactly one grant, one token', async () => {
    const instances = await Promise.all([gateway(), gateway(), gateway()]);
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 400 });
    const form = {
      grant_type: 'client_credentials',
      client_id: 'many-instances',
      client_secret: CLIENTS['many-instances'],
    };

    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => instances[i % 3].token(form)));

    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((answer) => answer.body?.access_token)).size).toBe(1);
    expect(issuer.issuer.grantCount('many-instances')).toBe(1);

    const acquired = await Promise.all(
      instances.map((i) => i.metric('v3_token_lock_waits_total', { outcome: 'acquired' })),
    );
    const pickedUp = await Promise.all(
      instances.map((i) => i.metric('v3_token_lock_waits_total', { outcome: 'picked_up' })),
    );
    const storeHits = await Promise.all(
      instances.map((i) => i.metric('v3_token_cache_hits_total', { tier: 'store' })),
    );
    expect(acquired.reduce((a, b) => a + b)).toBe(1);
    expect(pickedUp.reduce((a, b) => a + b) + storeHits.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(2);
    const grants = await Promise.all(
      instances.map((i) => i.metric('v3_token_grants_total', { outcome: 'success' })),
    );
    expect(grants.sort()).toEqual([0, 0, 1]);
  });

  it('proxied cold requests on one gateway and POST /token on another: one grant, and the lock is released', async () => {
    // Passport keeps one global strategy per name, so in one process the guard of every gateway reaches the
    // service of the gateway built last: proxied requests go to `second`, POST /token uses each one's own service.
    const first = await gateway();
    const second = await gateway();
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 300 });
    const header = basic('proxied-cold', CLIENTS['proxied-cold']);
    const form = {
      grant_type: 'client_credentials',
      client_id: 'proxied-cold',
      client_secret: CLIENTS['proxied-cold'],
    };

    const [proxied, issued] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, () => second.get('/v3/orders', header))),
      Promise.all(Array.from({ length: 6 }, () => first.token(form))),
    ]);

    expect([...proxied, ...issued].map((answer) => answer.status)).toEqual(
      Array.from({ length: 12 }, () => 200),
    );
    expect(proxied[0].body).toMatchObject({ client_id: 'proxied-cold', path: '/v3/orders' });
    expect(new Set(issued.map((answer) => answer.body?.access_token)).size).toBe(1);
    expect(issuer.issuer.grantCount('proxied-cold')).toBe(1);
    const keys = await raw.keys('v3t:*');
    expect(keys.filter((key) => key.endsWith(':lock'))).toEqual([]);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((key) => /^v3t:\{[^{}]+\}(:good|:count)?$/.test(key))).toBe(true);
  });

  it('renews the lease while a grant outlasts it, so a waiting instance does not grant too', async () => {
    const options = { lockLeaseMs: 150, lockWaitMs: 4000 };
    const [first, second] = await Promise.all([moduleApp(options), moduleApp(options)]);
    const lockKey = lockKeyOf(first, 'long-grant');
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 900 });
    const header = basic('long-grant', CLIENTS['long-grant']);

    const pending = Promise.all([first.me(header), second.me(header), first.me(header), second.me(header)]);
    await sleep(600);
    const owner = await raw.get(lockKey);
    const remaining = await raw.pttl(lockKey);
    const answers = await pending;

    expect(owner).not.toBeNull();
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(150);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(answers.map((answer) => answer.body?.accessToken)).size).toBe(1);
    expect(issuer.issuer.grantCount('long-grant')).toBe(1);
    expect(await raw.exists(lockKey)).toBe(0);
  });

  it('waits past lockWaitMs while the holder renews its lease: an issuer slower than the wait gets one grant', async () => {
    const observers = [new CountingObserver(), new CountingObserver()];
    const lockWaitMs = 400;
    const [first, second] = await Promise.all(
      observers.map((observer) => moduleApp({ lockWaitMs, lockLeaseMs: 300, observer })),
    );
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 3 * lockWaitMs });
    const header = basic('slow-issuer', CLIENTS['slow-issuer']);

    const started = Date.now();
    const answers = await Promise.all([first.me(header), second.me(header), second.me(header)]);
    const elapsed = Date.now() - started;

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(new Set(answers.map((answer) => answer.body?.accessToken)).size).toBe(1);
    expect(issuer.issuer.grantCount('slow-issuer')).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(3 * lockWaitMs - 50);
    const count = (name: string) => observers.reduce((sum, observer) => sum + observer.count(name), 0);
    expect(count('lockWait:timeout')).toBe(0);
    expect(count('lockWait:picked_up')).toBe(1);
  });

  it('stops waiting on a holder that renews its lease for longer than a whole grant can take', async () => {
    const lockWaitMs = 300;
    const observer = new CountingObserver();
    // One attempt, no queue wait, 250 ms head and body timeouts: a grant can take 500 ms at most.
    const app = await moduleApp({
      lockWaitMs,
      lockLeaseMs: 10_000,
      timeoutMs: 250,
      issuerQueueWaitMs: 0,
      observer,
    });
    const lockKey = lockKeyOf(app, 'endless-holder');
    await raw.set(lockKey, 'a-holder-that-never-ends', 'PX', 400);
    const renewing = setInterval(() => void raw.pexpire(lockKey, 400), 100);
    try {
      const started = Date.now();
      const answer = await app.me(basic('endless-holder', CLIENTS['endless-holder']));
      const elapsed = Date.now() - started;

      expect(answer.status).toBe(200);
      expect(elapsed).toBeGreaterThanOrEqual(lockWaitMs + 500 - 50);
      expect(elapsed).toBeLessThan(lockWaitMs + 500 + 2000);
      expect(observer.count('lockWait:timeout')).toBe(1);
      expect(issuer.issuer.grantCount('endless-holder')).toBe(1);
    } finally {
      clearInterval(renewing);
    }
  });

  it('falls back to its own grant within lockWaitMs when the lock holder died without an entry landing', async () => {
    const observers = [new CountingObserver(), new CountingObserver()];
    const lockWaitMs = 400;
    const apps = await Promise.all(
      observers.map((observer) => moduleApp({ lockWaitMs, lockLeaseMs: 10_000, observer })),
    );
    const lockKey = lockKeyOf(apps[0], 'dead-holder');
    await raw.set(lockKey, 'a-holder-that-died', 'PX', 60_000);
    const header = basic('dead-holder', CLIENTS['dead-holder']);

    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => apps[i % 2].me(header)));
    const elapsed = Date.now() - started;

    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    for (const answer of answers) {
      expect(answer.body?.clientId).toBe('dead-holder');
    }
    expect(elapsed).toBeGreaterThanOrEqual(lockWaitMs - 50);
    expect(elapsed).toBeLessThan(lockWaitMs + 2000);
    expect(issuer.issuer.grantCount('dead-holder')).toBeGreaterThanOrEqual(1);
    expect(issuer.issuer.grantCount('dead-holder')).toBeLessThanOrEqual(2);
    const timeouts = observers.reduce((sum, observer) => sum + observer.count('lockWait:timeout'), 0);
    const pickedUp = observers.reduce((sum, observer) => sum + observer.count('lockWait:picked_up'), 0);
    expect(timeouts).toBeGreaterThanOrEqual(1);
    expect(timeouts + pickedUp).toBe(2);
    expect(await raw.get(lockKey)).toBe('a-holder-that-died');

    const again = await Promise.all(apps.map((app) => app.me(header)));
    expect(again.map((answer) => answer.status)).toEqual([200, 200]);
    expect(issuer.issuer.grantCount('dead-holder')).toBe(timeouts);
  });
});
