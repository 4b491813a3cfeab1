import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisTokenStore, type V3TokenAuthModuleOptions } from 'nestjs-v3-token-auth';
import { TokenFingerprinter } from '../../libs/v3-token-auth/src/core/token-fingerprint.js';
import {
  FAULT_HMAC_KEY,
  startGateway,
  startModuleApp,
  type GatewayInstance,
  type ModuleInstance,
} from '../faults/fault-harness.js';
import { GatedTokenStore } from '../support/gated-token.store.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic, sleep } from '../support/v3-token-auth-app.js';

const CLIENTS: Record<string, string> = {
  'evict-across': 'ea-secret-1',
  'evict-read': 'er-secret-2',
  'evict-check': 'ec-secret-3',
  'evict-token': 'et-secret-4',
  'evict-stranger': 'es-secret-5',
  'evict-one-read': 'eo-secret-6',
};
const PREFIX = 'evict:';

/** Polls an async `condition` every 20 ms until it holds or `timeoutMs` passes; answers whether it held. */
async function eventuallyAsync(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(20);
  }
  return condition();
}

/**
 * Issue 10 item 5: `invalidate(accessToken)` evicts a token from every tier on every instance sharing the store, and
 * its tombstone keeps reads and grants in flight from bringing it back. Instances share one private redis-server;
 * the sandbox token endpoint is the issuer and counts grants.
 */
describe('eviction by token across instances sharing Redis', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let raw: Redis;
  const closers: (() => Promise<void>)[] = [];

  const moduleApp = async (options: Partial<V3TokenAuthModuleOptions> = {}): Promise<ModuleInstance> => {
    const app = await startModuleApp({
      tokenUrl: issuer.tokenUrl,
      redis: { url: redis.url },
      hmacKey: FAULT_HMAC_KEY,
      keyPrefix: PREFIX,
      ...options,
    });
    closers.push(() => app.close());
    return app;
  };

  /** A module app whose store answers can be held back (a real RedisTokenStore underneath). */
  const gatedApp = async (): Promise<{ app: ModuleInstance; store: GatedTokenStore }> => {
    const store = new GatedTokenStore(
      await RedisTokenStore.create({ redis: { url: redis.url }, keyPrefix: PREFIX }),
    );
    closers.push(() => store.close());
    const app = await moduleApp({ redis: undefined, store });
    return { app, store };
  };

  const tokenOf = async (app: ModuleInstance, header: string): Promise<string> => {
    const answer = await app.me(header);
    expect(answer.status).toBe(200);
    return answer.body?.accessToken as string;
  };

  const bearerKeyOf = (app: ModuleInstance, token: string): string =>
    app.app.get(TokenFingerprinter, { strict: false }).bearerKey(token);

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([startTokenServer({ clients: CLIENTS }), startRedisServer()]);
    raw = new Redis(redis.url);
  });

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  afterAll(async () => {
    raw.disconnect();
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('a token evicted on A is served by no instance: B drops its copy, a fresh instance refuses it', async () => {
    const header = basic('evict-across', CLIENTS['evict-across']);
    const [a, b] = [await moduleApp(), await moduleApp()];
    const token = await tokenOf(a, header);
    expect(await tokenOf(b, header)).toBe(token);
    expect((await b.me(`Bearer ${token}`)).status).toBe(200);
    const grants = issuer.issuer.grantCount('evict-across');

    await a.tokens.invalidate(token);

    expect((await a.me(`Bearer ${token}`)).status).toBe(401);
    const c = await moduleApp();
    expect((await c.me(`Bearer ${token}`)).status).toBe(401);
    expect(await eventuallyAsync(async () => (await b.me(`Bearer ${token}`)).status === 401)).toBe(true);
    const fresh = await tokenOf(b, header);
    expect(fresh).not.toBe(token);
    expect(issuer.issuer.grantCount('evict-across')).toBe(grants + 1);
    expect(await tokenOf(a, header)).toBe(fresh);
    expect(await tokenOf(c, header)).toBe(fresh);

    const tombstone = (c.store as RedisTokenStore).tombstoneKey(bearerKeyOf(c, token));
    const ttl = await raw.pttl(tombstone);
    expect(ttl).toBeGreaterThan(200_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
    const keys = await raw.keys(`${PREFIX}*`);
    expect(keys.some((key) => key.includes(token))).toBe(false);
    expect(keys).toContain(tombstone);
  });

  it('an instance that never held the token evicts it: its entries left in the store are refused everywhere', async () => {
    const header = basic('evict-stranger', CLIENTS['evict-stranger']);
    const b = await moduleApp();
    const token = await tokenOf(b, header);
    const a = await moduleApp();

    await a.tokens.invalidate(token);

    const c = await moduleApp();
    const fresh = await tokenOf(c, header);
    expect(fresh).not.toBe(token);
    expect(await eventuallyAsync(async () => (await tokenOf(b, header)) === fresh)).toBe(true);
  });

  it('a store read answered before the eviction and delivered after it does not bring the token back', async () => {
    const header = basic('evict-read', CLIENTS['evict-read']);
    const a = await moduleApp();
    const { app: b, store } = await gatedApp();
    const token = await tokenOf(a, header);

    store.getGate.close();
    const pending = b.tokens.authenticate(header);
    await eventuallyAsync(() => Promise.resolve(store.getGate.waiting === 1));
    await a.tokens.invalidate(token);
    store.getGate.open();

    const principal = await pending;
    expect(principal.accessToken).not.toBe(token);
    await expect(b.tokens.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
    expect(await tokenOf(b, header)).toBe(principal.accessToken);
  });

  it('a tombstone check answered before the eviction but delivered after it does not either', async () => {
    const header = basic('evict-check', CLIENTS['evict-check']);
    const a = await moduleApp();
    const { app: b, store } = await gatedApp();
    const token = await tokenOf(a, header);
    let announced = false;
    store.onTombstone(() => (announced = true));

    store.tombstoneGate.close();
    const pending = b.tokens.authenticate(header);
    await eventuallyAsync(() => Promise.resolve(store.tombstoneGate.waiting === 1));
    await a.tokens.invalidate(token);
    expect(await eventuallyAsync(() => Promise.resolve(announced))).toBe(true);
    store.tombstoneGate.open();

    expect((await pending).accessToken).not.toBe(token);
  });

  it('with the in-process layer off, a store hit is one MGET of entry and tombstone, and an eviction still ends it', async () => {
    const header = basic('evict-one-read', CLIENTS['evict-one-read']);
    const calls = async (): Promise<Record<string, number>> => {
      const stats = await raw.info('commandstats');
      const of = (command: string) =>
        Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      return { mget: of('mget'), get: of('get'), exists: of('exists') };
    };
    const a = await moduleApp();
    const b = await moduleApp({ memoryCache: false });
    const token = await tokenOf(a, header);
    expect(await tokenOf(b, header)).toBe(token);

    const before = await calls();
    expect(await tokenOf(b, header)).toBe(token);
    expect(await tokenOf(b, `Bearer ${token}`)).toBe(token);
    const after = await calls();
    expect({
      mget: after.mget - before.mget,
      get: after.get - before.get,
      exists: after.exists - before.exists,
    }).toEqual({
      mget: 2,
      get: 0,
      exists: 0,
    });

    await a.tokens.invalidate(token);
    expect((await b.me(`Bearer ${token}`)).status).toBe(401);
    const fresh = await tokenOf(b, header);
    expect(fresh).not.toBe(token);
    expect(await tokenOf(a, header)).toBe(fresh);
  });

  it('POST /token hands out a fresh token after an eviction, on either gateway', async () => {
    const gateway = async (): Promise<GatewayInstance> => {
      const instance = await startGateway({
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
        REDIS_URL: redis.url,
        TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
        REDIS_KEY_PREFIX: PREFIX,
      });
      closers.push(() => instance.close());
      return instance;
    };
    const form = {
      grant_type: 'client_credentials',
      client_id: 'evict-token',
      client_secret: CLIENTS['evict-token'],
    };
    const [a, b] = [await gateway(), await gateway()];
    const first = (await a.token(form)).body?.access_token as string;
    expect((await b.token(form)).body?.access_token).toBe(first);

    await a.tokens.invalidate(first);

    const fromB = await b.token(form);
    expect(fromB.status).toBe(200);
    expect(fromB.body?.access_token).not.toBe(first);
    expect((await a.token(form)).body?.access_token).toBe(fromB.body?.access_token);
    await expect(b.tokens.authenticate(`Bearer ${first}`)).rejects.toMatchObject({ status: 401 });
  });
});
