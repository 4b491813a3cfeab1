import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startRedisServer, type PrivateRedis } from './support/redis-server.js';
import { basic } from './support/v3-token-auth-app.js';
import {
  FAULT_HMAC_KEY,
  startModuleApp,
  startScriptedIssuer,
  validTokenAnswer,
  type ModuleInstance,
  type ScriptedIssuer,
} from './faults/fault-harness.js';

const CLIENT = 'rotating-client';
const OLD_SECRET = 'old-secret-7f3a91';
const NEW_SECRET = 'new-secret-c24e08';
const WRONG_SECRET = 'wrong-secret-5b6d';

/**
 * Issue 10, item 4: while a client's old and new secrets are both valid at the issuer, callers alternating between
 * them are served from the cache (one grant per secret, not one per request), on two instances sharing a private
 * redis-server; a secret that obtained no token still goes to the issuer and gets no cached token.
 */
describe('secret rotation across two instances on one Redis', () => {
  let redis: PrivateRedis;
  let issuer: ScriptedIssuer;
  let inspector: Redis;
  let instances: ModuleInstance[] = [];
  const grantsBySecret = new Map<string, number>();

  beforeAll(async () => {
    [redis, issuer] = await Promise.all([startRedisServer(), startScriptedIssuer()]);
    inspector = new Redis(redis.url, { lazyConnect: true });
    await inspector.connect();
    issuer.answer = (form) => {
      const secret = form.get('client_secret') ?? '';
      const valid = form.get('client_id') === CLIENT && (secret === OLD_SECRET || secret === NEW_SECRET);
      if (!valid) {
        return {
          status: 401,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            error: 'invalid_client',
            error_description: 'client authentication failed',
          }),
        };
      }
      const count = (grantsBySecret.get(secret) ?? 0) + 1;
      grantsBySecret.set(secret, count);
      return validTokenAnswer(`token-of-${secret === OLD_SECRET ? 'old' : 'new'}-${count}`, 300);
    };
  });

  beforeEach(async () => {
    await Promise.all(instances.splice(0).map((instance) => instance.close()));
    await inspector.flushdb();
    grantsBySecret.clear();
    issuer.count = 0;
    const options = {
      tokenUrl: issuer.tokenUrl,
      redis: { url: redis.url },
      hmacKey: FAULT_HMAC_KEY,
      retry: { attempts: 1 },
      invalidCredentialsTtlMs: 0,
    };
    instances = await Promise.all([startModuleApp(options), startModuleApp(options)]);
  });

  afterAll(async () => {
    await Promise.all(instances.splice(0).map((instance) => instance.close()));
    inspector.disconnect();
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('10 requests alternating old and new secret over both instances make 2 grants, each secret served', async () => {
    const answers = [];
    for (let i = 0; i < 10; i++) {
      const secret = i % 2 === 0 ? OLD_SECRET : NEW_SECRET;
      const instance = instances[Math.floor(i / 2) % 2];
      answers.push(await instance.me(basic(CLIENT, secret)));
    }
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(issuer.count).toBe(2);
    expect(grantsBySecret.get(OLD_SECRET)).toBe(1);
    expect(grantsBySecret.get(NEW_SECRET)).toBe(1);
    const tokens = answers.map((answer) => answer.body?.accessToken);
    expect(tokens.slice(2).every((token) => token === 'token-of-new-1')).toBe(true);
  });

  it('a third, wrong secret goes to the issuer and gets 401 without any cached token', async () => {
    await instances[0].me(basic(CLIENT, OLD_SECRET));
    await instances[1].me(basic(CLIENT, NEW_SECRET));
    expect(issuer.count).toBe(2);

    for (const instance of instances) {
      const refused = await instance.me(basic(CLIENT, WRONG_SECRET));
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ statusCode: 401, oauthError: 'invalid_client' });
      expect(refused.text).not.toContain('token-of-');
    }
    expect(issuer.count).toBe(4);

    for (const instance of instances) {
      for (const secret of [OLD_SECRET, NEW_SECRET]) {
        const served = await instance.me(basic(CLIENT, secret));
        expect(served.status).toBe(200);
        expect(served.body?.accessToken).toMatch(/^token-of-(old|new)-1$/);
      }
    }
    expect(issuer.count).toBe(4);
  });

  it('stores the verifiers, never a secret, in the Redis entry both instances read', async () => {
    await instances[0].me(basic(CLIENT, OLD_SECRET));
    await instances[1].me(basic(CLIENT, NEW_SECRET));
    const keys = await inspector.keys('*');
    const values = await Promise.all(keys.map((key) => inspector.get(key).catch(() => null)));
    const entries = values.filter((value): value is string => value?.includes('token-of-new-1') === true);
    expect(entries.length).toBeGreaterThan(0);
    const stored = entries.map((value) => value.slice(value.indexOf('|') + 1));
    const withVerifiers = stored
      .map((json) => JSON.parse(json) as { verifier: string; recentVerifiers?: unknown[] })
      .filter((entry) => entry.verifier !== '');
    expect(withVerifiers).toHaveLength(1);
    expect(withVerifiers[0].recentVerifiers).toHaveLength(1);
    for (const key of keys) {
      for (const secret of [OLD_SECRET, NEW_SECRET]) expect(key).not.toContain(secret);
    }
    for (const value of values) {
      for (const secret of [OLD_SECRET, NEW_SECRET]) expect(value ?? '').not.toContain(secret);
    }
  });
});
