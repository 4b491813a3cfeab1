import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { V3TokenService } from 'nestjs-v3-token-auth';
import { startRedisServer, type PrivateRedis } from './support/redis-server.js';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import { basic, sleep, moduleApps } from './support/v3-token-auth-app.js';

const HMAC_KEY = 'e2e-cache-hmac-key-0123456789abcdef';
const CLIENTS: Record<string, string> = {
  'single-flight': 'sf-secret-1',
  'two-instances': 'ti-secret-2',
  'short-lived': 'sl-secret-3',
  'too-short': 'ts-secret-4',
  wrong: 'right-secret-5',
  alpha: 'alpha-secret-6',
  beta: 'beta-secret-7',
  ttl: 'ttl-secret-8',
  sealed: 'sealed-secret-11',
  shared: 'shared-secret-12',
  throttled: 'throttled-secret-13',
};

describe('V3TokenAuthModule cache (real token endpoint, real Redis)', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let raw: Redis;
  const { start, closeAll } = moduleApps(() => issuer.tokenUrl);

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([startTokenServer({ clients: CLIENTS }), startRedisServer()]);
    raw = new Redis(redis.url);
  });

  afterEach(async () => {
    await closeAll();
    issuer.issuer.reset();
  });

  afterAll(async () => {
    raw.disconnect();
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('grants once per client for N sequential and N concurrent requests', async () => {
    const app = await start();
    const header = basic('single-flight', CLIENTS['single-flight']);
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 200 });

    const concurrent = await Promise.all(Array.from({ length: 20 }, () => app.me(header)));
    const sequential = [];
    for (let i = 0; i < 10; i++) sequential.push(await app.me(header));

    const answers = [...concurrent, ...sequential];
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    const tokens = new Set(answers.map((answer) => answer.body?.accessToken));
    expect(tokens.size).toBe(1);
    expect(answers[0].body).toMatchObject({ clientId: 'single-flight', tokenType: 'Bearer' });
    expect(issuer.issuer.grantCount('single-flight')).toBe(1);
  });

  it('grants once across two instances sharing Redis and the HMAC key (concurrent cold requests)', async () => {
    const shared = { redis: { url: redis.url }, hmacKey: HMAC_KEY, keyPrefix: 'e2e-two:' };
    const [first, second] = await Promise.all([start(shared), start(shared)]);
    const header = basic('two-instances', CLIENTS['two-instances']);
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 300 });

    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? first : second).me(header)),
    );

    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((answer) => answer.body?.accessToken)).size).toBe(1);
    expect(issuer.issuer.grantCount('two-instances')).toBe(1);

    const third = await start(shared);
    const late = await third.me(header);
    expect(late.body?.accessToken).toBe(answers[0].body?.accessToken);
    expect(issuer.issuer.grantCount('two-instances')).toBe(1);
  });

  it('honours a short expires_in and grants a new token after it passes', async () => {
    issuer.issuer.lifetimes = { tokenLifetimeSeconds: 2 };
    const app = await start({ expirySkewSeconds: 0, refreshAheadRatio: 0 });
    const header = basic('short-lived', CLIENTS['short-lived']);

    const first = await app.me(header);
    const again = await app.me(header);
    expect(first.status).toBe(200);
    expect(again.body?.accessToken).toBe(first.body?.accessToken);
    expect(issuer.issuer.grantCount('short-lived')).toBe(1);
    const expiresAt = first.body?.expiresAt as number;
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(2000);

    await sleep(Math.max(0, expiresAt - Date.now()) + 100);
    const renewed = await app.me(header);

    expect(renewed.status).toBe(200);
    expect(renewed.body?.accessToken).not.toBe(first.body?.accessToken);
    expect(renewed.body?.expiresAt).toBeGreaterThan(expiresAt);
    expect(issuer.issuer.grantCount('short-lived')).toBe(2);
  });

  it('reuses a token that lives less than the skew for most of its life: the skew takes at most a tenth', async () => {
    issuer.issuer.lifetimes = { tokenLifetimeSeconds: 2 };
    const app = await start({
      expirySkewSeconds: 5,
      redis: { url: redis.url },
      hmacKey: HMAC_KEY,
      keyPrefix: 'e2e-skew:',
    });
    const header = basic('too-short', CLIENTS['too-short']);

    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await app.me(header));

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(new Set(answers.map((answer) => answer.body?.accessToken)).size).toBe(1);
    expect(issuer.issuer.grantCount('too-short')).toBe(1);
    const entry = (await raw.keys('e2e-skew:{c.*')).find((key) => key.endsWith('}'));
    expect(entry).toBeDefined();
    const pttl = await raw.pttl(entry!);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1800);
  });

  it('refuses a wrong secret even while the client is cached, asking the issuer at most once', async () => {
    const app = await start();
    const good = await app.me(basic('wrong', CLIENTS.wrong));
    expect(good.status).toBe(200);
    expect(issuer.issuer.grantCount('wrong')).toBe(1);

    const wrongSecret = 'not-the-right-secret';
    for (let i = 0; i < 3; i++) {
      const refused = await app.me(basic('wrong', wrongSecret));
      expect(refused.status).toBe(401);
      expect(refused.headers.get('content-type')).toMatch(/application\/json/);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"/);
      expect(refused.body).toMatchObject({ statusCode: 401 });
      expect(refused.text).not.toContain(wrongSecret);
      expect(refused.text).not.toContain(good.body?.accessToken);
    }
    expect(issuer.issuer.grantCount('wrong')).toBe(2);

    const stillGood = await app.me(basic('wrong', CLIENTS.wrong));
    expect(stillGood.status).toBe(200);
    expect(stillGood.body?.accessToken).toBe(good.body?.accessToken);
    expect(issuer.issuer.grantCount('wrong')).toBe(2);
  });

  it('isolates clients: different tokens, and one client secret does not open another client', async () => {
    const app = await start({ redis: { url: redis.url }, hmacKey: HMAC_KEY, keyPrefix: 'e2e-iso:' });
    const alpha = await app.me(basic('alpha', CLIENTS.alpha));
    const beta = await app.me(basic('beta', CLIENTS.beta));

    expect(alpha.body).toMatchObject({ clientId: 'alpha' });
    expect(beta.body).toMatchObject({ clientId: 'beta' });
    expect(alpha.body?.accessToken).not.toBe(beta.body?.accessToken);

    const crossed = await app.me(basic('beta', CLIENTS.alpha));
    expect(crossed.status).toBe(401);
    expect(crossed.text).not.toContain(beta.body?.accessToken);

    const betaAgain = await app.me(basic('beta', CLIENTS.beta));
    expect(betaAgain.body?.accessToken).toBe(beta.body?.accessToken);
    expect(issuer.issuer.successfulGrants('alpha')).toBe(1);
    expect(issuer.issuer.successfulGrants('beta')).toBe(1);
  });

  it('keeps Redis entries for expires_in minus the bounded skew, under the prefix, without any secret', async () => {
    issuer.issuer.lifetimes = { tokenLifetimeSeconds: 3 };
    const app = await start({
      expirySkewSeconds: 1,
      redis: { url: redis.url },
      hmacKey: HMAC_KEY,
      keyPrefix: 'e2e-ttl:',
    });
    const header = basic('ttl', CLIENTS.ttl);

    const granted = await app.me(header);
    expect(granted.status).toBe(200);
    const keys = await raw.keys('*');
    const ours = keys.filter((key) => key.startsWith('e2e-ttl:'));
    expect(ours.length).toBeGreaterThanOrEqual(1);
    expect(ours.some((key) => key.endsWith(':lock'))).toBe(false);

    const entryKey = ours.find((key) => key.startsWith('e2e-ttl:{c.') && key.endsWith('}'));
    expect(entryKey).toBeDefined();
    const pttl = await raw.pttl(entryKey!);
    // 3 s less the skew, which is 1 s capped at a tenth of the token's life: 2.7 s.
    expect(pttl).toBeGreaterThan(2200);
    expect(pttl).toBeLessThanOrEqual(2700);

    const encodedHeader = header.slice('Basic '.length);
    for (const key of keys) {
      const value = (await raw.get(key)) ?? '';
      for (const text of [key, value]) {
        expect(text).not.toContain(CLIENTS.ttl);
        expect(text).not.toContain(encodedHeader);
      }
    }

    await sleep(pttl + 100);
    expect(await raw.exists(entryKey!)).toBe(0);
  });

  it('seals entries in Redis with encryptionKeys, and a second instance with the same keys opens them', async () => {
    const shared = {
      redis: { url: redis.url },
      hmacKey: HMAC_KEY,
      keyPrefix: 'e2e-sealed:',
      encryptionKeys: [{ id: 'k1', key: randomBytes(32) }],
    };
    const first = await start(shared);
    const header = basic('sealed', CLIENTS.sealed);
    const granted = await first.me(header);
    const accessToken = granted.body?.accessToken as string;
    expect(granted.status).toBe(200);

    const keys = await raw.keys('e2e-sealed:*');
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      const value = (await raw.get(key)) ?? '';
      expect(value).not.toContain(accessToken);
      expect(value).not.toContain(CLIENTS.sealed);
      expect(value).not.toContain('sealed');
    }

    const second = await start(shared);
    const reused = await second.me(header);
    expect(reused.body?.accessToken).toBe(accessToken);
    expect(issuer.issuer.grantCount('sealed')).toBe(1);

    const otherKey = await start({ ...shared, encryptionKeys: [{ id: 'k9', key: randomBytes(32) }] });
    const regranted = await otherKey.me(header);
    expect(regranted.status).toBe(200);
    expect(issuer.issuer.grantCount('sealed')).toBe(2);
  });

  it('accepts on one instance a Bearer token another instance handed out (shared Redis)', async () => {
    const shared = { redis: { url: redis.url }, hmacKey: HMAC_KEY, keyPrefix: 'e2e-bearer:' };
    const [first, second] = await Promise.all([start(shared), start(shared)]);
    const issued = await first.app
      .get(V3TokenService)
      .issueToken({ grant_type: 'client_credentials', client_id: 'shared', client_secret: CLIENTS.shared });

    const opened = await second.me(`Bearer ${issued.access_token}`);
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ clientId: 'shared', accessToken: issued.access_token });

    const isolated = await start({ ...shared, keyPrefix: 'e2e-elsewhere:' });
    expect((await isolated.me(`Bearer ${issued.access_token}`)).status).toBe(401);
  });

  it('throttles repeated wrong secrets with 429 without asking the issuer, and never locks out the right secret', async () => {
    const app = await start({ maxFailedAttempts: 2, invalidCredentialsTtlMs: 0 });
    expect((await app.me(basic('throttled', CLIENTS.throttled))).status).toBe(200);

    expect((await app.me(basic('throttled', 'wrong-1'))).status).toBe(401);
    expect((await app.me(basic('throttled', 'wrong-2'))).status).toBe(401);
    const throttled = await app.me(basic('throttled', 'wrong-3'));
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(throttled.body).toMatchObject({ statusCode: 429 });
    expect(issuer.issuer.grantCount('throttled')).toBe(3);

    const right = await app.me(basic('throttled', CLIENTS.throttled));
    expect(right.status).toBe(200);
  });
});
