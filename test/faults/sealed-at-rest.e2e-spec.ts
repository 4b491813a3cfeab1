import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic } from '../support/v3-token-auth-app.js';
import {
  clientCredentialsForm,
  FAULT_HMAC_KEY,
  type GatewayInstance,
  startGateway,
} from './fault-harness.js';

const GATEWAY_CLIENT = { id: 'gateway-itself', secret: 'gateway-own-secret-value' };
const CLIENTS: Record<string, string> = {
  [GATEWAY_CLIENT.id]: GATEWAY_CLIENT.secret,
  plain: 'plain-secret-value-1',
  sealed: 'sealed-secret-value-2',
  rotated: 'rotated-secret-value-3',
  tampered: 'tampered-secret-value-4',
};
const USERS: Record<string, string> = { jdoe: 'jdoe-password-value' };
const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');
const form = clientCredentialsForm(CLIENTS);

/** Issue 4, item 6: what a real Redis holds behind real gateways, with and without TOKEN_CACHE_ENCRYPTION_KEY. */
describe('faults: tokens sealed at rest', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let raw: Redis;
  const gateways: GatewayInstance[] = [];

  const gateway = async (env: Record<string, string> = {}): Promise<GatewayInstance> => {
    const instance = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
      ...env,
    });
    gateways.push(instance);
    return instance;
  };

  /** Every entry the gateway stored (not the throttle's `:good` keys), by key. */
  const stored = async (): Promise<Map<string, string>> => {
    // Entries only: not the known-good marks, nor the cold-grant counts (an integer under a keyed hash of an address).
    const keys = (await raw.keys('v3t:*')).filter((key) => !key.endsWith(':good') && !key.endsWith(':count'));
    const values = keys.length > 0 ? await raw.mget(keys) : [];
    return new Map(keys.map((key, i) => [key, values[i] ?? '']));
  };

  const secretsOf = (values: Iterable<string>, secrets: string[]): string[] =>
    [...values].filter((value) => secrets.some((secret) => value.includes(secret)));

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([
      startTokenServer({ clients: CLIENTS, users: USERS }),
      startRedisServer(),
    ]);
    raw = new Redis(redis.url);
  });

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((instance) => instance.close()));
    await raw.flushdb();
    issuer.issuer.reset();
  });

  afterAll(async () => {
    raw.disconnect();
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('without a key, Redis holds tokens but never a client secret, a password or an Authorization header', async () => {
    const clientCredentials = await gateway();
    const password = await gateway({
      V3_GRANT_TYPE: 'password',
      V3_CLIENT_ID: GATEWAY_CLIENT.id,
      V3_CLIENT_SECRET: GATEWAY_CLIENT.secret,
    });
    expect((await clientCredentials.token(form('plain'))).status).toBe(200);
    expect(
      (await password.token({ grant_type: 'password', username: 'jdoe', password: USERS.jdoe })).status,
    ).toBe(200);

    const values = await stored();
    expect(values.size).toBeGreaterThanOrEqual(4);
    const secrets = [
      CLIENTS.plain,
      GATEWAY_CLIENT.secret,
      USERS.jdoe,
      basic('plain', CLIENTS.plain).slice(6),
      basic('jdoe', USERS.jdoe).slice(6),
    ];
    expect(secretsOf(values.values(), secrets)).toEqual([]);
    expect(secretsOf(values.keys(), [...secrets, 'plain', 'jdoe'])).toEqual([]);
    expect([...values.values()].some((value) => value.includes('"accessToken"'))).toBe(true);
  });

  it('with a key, every entry is sealed (AES-256-GCM, key id k1): no token, no secret, no JSON in Redis', async () => {
    const first = await gateway({ TOKEN_CACHE_ENCRYPTION_KEY: OLD_KEY });
    const second = await gateway({ TOKEN_CACHE_ENCRYPTION_KEY: OLD_KEY, TOKEN_MEMORY_CACHE: 'false' });

    const issued = await first.token(form('sealed'));
    const again = await second.token(form('sealed'));

    expect(issued.status).toBe(200);
    expect(again.body?.access_token).toBe(issued.body?.access_token);
    expect(issuer.issuer.grantCount('sealed')).toBe(1);
    const values = await stored();
    expect(values.size).toBe(2);
    for (const value of values.values()) {
      expect(value).toMatch(/^[0-9a-f]{64}\|v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    }
    const goodKeys = await raw.keys('v3t:*:good');
    expect(goodKeys).toHaveLength(1);
    const good = (await raw.get(goodKeys[0])) ?? '';
    expect(good).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const accessToken = issued.body?.access_token as string;
    expect(
      secretsOf(
        [...values.values(), good],
        [accessToken, accessToken.split('.')[1], CLIENTS.sealed, 'accessToken'],
      ),
    ).toEqual([]);
  });

  it('rotates keys: a previous key still opens old entries, new entries use the new key, an unknown key id is a miss', async () => {
    const old = await gateway({ TOKEN_CACHE_ENCRYPTION_KEY: OLD_KEY });
    const issued = await old.token(form('rotated'));
    expect(issued.status).toBe(200);

    const rotated = await gateway({ TOKEN_CACHE_ENCRYPTION_KEY: `k2:${NEW_KEY},k1:${OLD_KEY}` });
    const opened = await rotated.token(form('rotated'));
    expect(opened.body?.access_token).toBe(issued.body?.access_token);
    expect(issuer.issuer.grantCount('rotated')).toBe(1);
    expect((await rotated.token(form('sealed'))).status).toBe(200);
    const values = [...(await stored()).values()];
    expect(values.filter((value) => value.includes('|v1.k1.'))).toHaveLength(2);
    expect(values.filter((value) => value.includes('|v1.k2.'))).toHaveLength(2);

    const newOnly = await gateway({ TOKEN_CACHE_ENCRYPTION_KEY: `k2:${NEW_KEY}` });
    const regranted = await newOnly.token(form('rotated'));
    expect(regranted.status).toBe(200);
    expect(regranted.body?.access_token).not.toBe(issued.body?.access_token);
    expect(issuer.issuer.grantCount('rotated')).toBe(2);
  });

  it('treats a tampered entry as a miss: a fresh grant, never a 500 or a forged token', async () => {
    const instance = await gateway({ TOKEN_CACHE_ENCRYPTION_KEY: OLD_KEY, TOKEN_MEMORY_CACHE: 'false' });
    const issued = await instance.token(form('tampered'));
    expect((await instance.token(form('tampered'))).body?.access_token).toBe(issued.body?.access_token);
    expect(issuer.issuer.grantCount('tampered')).toBe(1);

    for (const [key, value] of await stored()) {
      const parts = value.split('.');
      const ciphertext = parts[4];
      parts[4] = `${ciphertext[0] === 'A' ? 'B' : 'A'}${ciphertext.slice(1)}`;
      await raw.set(key, parts.join('.'), 'KEEPTTL');
    }
    const after = await instance.token(form('tampered'));
    const proxied = await instance.get('/v3/x', basic('tampered', CLIENTS.tampered));

    expect(after.status).toBe(200);
    expect(after.body?.access_token).not.toBe(issued.body?.access_token);
    expect(proxied.status).toBe(200);
    expect(issuer.issuer.grantCount('tampered')).toBe(2);
    const bearer = await instance.get('/v3/x', `Bearer ${issued.body?.access_token as string}`);
    expect(bearer.status).toBe(401);
  });
});
