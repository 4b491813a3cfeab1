import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { V3TokenAuthModuleOptions } from 'nestjs-v3-token-auth';
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
  type TimedAnswer,
} from './fault-harness.js';

const CLIENTS: Record<string, string> = {
  flooded: 'flooded-right-secret',
  victim: 'victim-right-secret',
  bystander: 'bystander-right-secret',
  remembered: 'remembered-right-secret',
  expiring: 'expiring-right-secret',
  spread: 'spread-right-secret',
  exempt: 'exempt-right-secret',
};

const wrongSecret = (i: number): string => `wrong-secret-number-${i}-xyz`;

function expectNoSecret(answers: TimedAnswer[], secrets: string[]): void {
  for (const answer of answers) {
    for (const secret of secrets) expect(answer.text).not.toContain(secret);
    expect(answer.text).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
  }
}

/** Issue 4, item 5: wrong secrets against the real sandbox issuer, through the gateway and a module app. */
describe('faults: wrong secrets', () => {
  let issuer: TokenServer;

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: CLIENTS, tokenLifetimeSeconds: 300 });
  });

  afterAll(() => issuer.close());

  describe('through the gateway', () => {
    let gateway: GatewayInstance;

    beforeAll(async () => {
      gateway = await startGateway({
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      });
    });

    afterEach(() => issuer.issuer.reset());
    afterAll(() => gateway.close());

    it('a flood of one bad secret reaches the issuer once (remembered by fingerprint), on both paths', async () => {
      const bad = basic('flooded', wrongSecret(0));
      const form = { grant_type: 'client_credentials', client_id: 'flooded', client_secret: wrongSecret(0) };

      const answers = [
        ...(await Promise.all(Array.from({ length: 30 }, () => gateway.get('/v3/x', bad)))),
        ...(await Promise.all(Array.from({ length: 10 }, () => gateway.token(form)))),
      ];

      expect(answers.slice(0, 30).map((answer) => answer.status)).toEqual(
        answers.slice(0, 30).map(() => 401),
      );
      expect(answers.slice(30).map((answer) => answer.status)).toEqual(answers.slice(30).map(() => 401));
      expect(answers[0].headers.get('www-authenticate')).toMatch(/Basic/);
      expect(answers[30].body).toMatchObject({ error: 'unauthorized_client' });
      expect(issuer.issuer.grantCount('flooded')).toBe(1);
      expectNoSecret(answers, [wrongSecret(0)]);

      const right = await gateway.get('/v3/x', basic('flooded', CLIENTS.flooded));
      expect(right.status).toBe(200);
      expect(issuer.issuer.successfulGrants('flooded')).toBe(1);
    });

    it('throttles many wrong secrets for one client with 429 + Retry-After, without locking out the right secret', async () => {
      expect((await gateway.get('/v3/x', basic('victim', CLIENTS.victim))).status).toBe(200);
      // The throttle stops a guessing address for every unknown secret; a bystander whose secret is known passes.
      expect((await gateway.get('/v3/x', basic('bystander', CLIENTS.bystander))).status).toBe(200);
      const throttledBefore = await gateway.metric('v3_token_throttled_total');

      const wrong: TimedAnswer[] = [];
      for (let i = 1; i <= 14; i++) {
        wrong.push(
          i % 2 === 0
            ? await gateway.get('/v3/x', basic('victim', wrongSecret(i)))
            : await gateway.token({
                grant_type: 'client_credentials',
                client_id: 'victim',
                client_secret: wrongSecret(i),
              }),
        );
      }
      const right = await Promise.all([
        gateway.get('/v3/x', basic('victim', CLIENTS.victim)),
        gateway.token({
          grant_type: 'client_credentials',
          client_id: 'victim',
          client_secret: CLIENTS.victim,
        }),
      ]);
      const bystander = await gateway.get('/v3/x', basic('bystander', CLIENTS.bystander));

      // Wrong secrets count per caller address over every client: this address spent one on 'flooded' above.
      expect(wrong.slice(0, 9).map((answer) => answer.status)).toEqual(Array.from({ length: 9 }, () => 401));
      expect(wrong.slice(9).map((answer) => answer.status)).toEqual([429, 429, 429, 429, 429]);
      for (const answer of wrong.slice(9)) {
        const retryAfter = Number(answer.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(60);
      }
      expect(wrong[9].body).toMatchObject({ statusCode: 429 });
      expect(wrong[10].body).toMatchObject({ error: 'slow_down' });
      expect(issuer.issuer.grantCount('victim')).toBe(1 + 9);
      expect(right.map((answer) => answer.status)).toEqual([200, 200]);
      expect(right[0].body).toMatchObject({ client_id: 'victim' });
      expect(bystander.status).toBe(200);
      expect(await gateway.metric('v3_token_throttled_total')).toBe(throttledBefore + 5);
      expectNoSecret(
        wrong,
        Array.from({ length: 14 }, (_, i) => wrongSecret(i + 1)),
      );
      expectNoSecret(right.slice(0, 1), [CLIENTS.victim]);
    });
  });

  describe('through a module app', () => {
    const closers: (() => Promise<void>)[] = [];
    const moduleApp = async (options: Partial<V3TokenAuthModuleOptions>): Promise<ModuleInstance> => {
      const app = await startModuleApp({ tokenUrl: issuer.tokenUrl, retry: { attempts: 1 }, ...options });
      closers.push(() => app.close());
      return app;
    };

    afterEach(async () => {
      await Promise.all(closers.splice(0).map((close) => close()));
      issuer.issuer.reset();
    });

    it('remembers a refused secret only briefly: after invalidCredentialsTtlMs it is asked again', async () => {
      const app = await moduleApp({ invalidCredentialsTtlMs: 300 });
      const bad = basic('remembered', wrongSecret(99));

      const first = await Promise.all(Array.from({ length: 10 }, () => app.me(bad)));
      expect(issuer.issuer.grantCount('remembered')).toBe(1);
      await sleep(400);
      const later = await app.me(bad);

      expect([...first, later].map((answer) => answer.status)).toEqual(Array.from({ length: 11 }, () => 401));
      expect(issuer.issuer.grantCount('remembered')).toBe(2);
    });

    it('does not lock out the right secret whose token expired while a flood of wrong secrets goes on', async () => {
      const observer = new CountingObserver();
      const app = await moduleApp({
        maxFailedAttempts: 3,
        failedAttemptsWindowMs: 1500,
        invalidCredentialsTtlMs: 100,
        expirySkewSeconds: 0,
        refreshAheadRatio: 0,
        observer,
      });
      issuer.issuer.lifetimes = { tokenLifetimeSeconds: 2 };
      const right = basic('expiring', CLIENTS.expiring);
      expect((await app.me(right)).status).toBe(200);

      await sleep(1600);
      const flood = [];
      for (let i = 0; i < 5; i++) flood.push(await app.me(basic('expiring', wrongSecret(200 + i))));
      expect(flood.map((answer) => answer.status)).toEqual([401, 401, 401, 429, 429]);
      await sleep(500);
      const renewed = await app.me(right);

      expect(renewed.status).toBe(200);
      expect(issuer.issuer.successfulGrants('expiring')).toBe(2);
      expect(observer.count('throttled')).toBe(2);
    });
  });

  describe('across instances sharing Redis', () => {
    let redis: PrivateRedis;
    let apps: ModuleInstance[];

    beforeAll(async () => {
      redis = await startRedisServer();
      const options: V3TokenAuthModuleOptions = {
        tokenUrl: issuer.tokenUrl,
        retry: { attempts: 1 },
        redis: { url: redis.url },
        hmacKey: FAULT_HMAC_KEY,
        maxFailedAttempts: 4,
        invalidCredentialsTtlMs: 0,
      };
      apps = await Promise.all([startModuleApp(options), startModuleApp(options)]);
    });

    afterEach(() => issuer.issuer.reset());
    afterAll(async () => {
      await Promise.all((apps ?? []).map((app) => app.close()));
      await redis?.stop();
    });

    it('counts wrong secrets over every instance: the fifth, on either, is a 429', async () => {
      const [a, b] = apps;
      const answers = [];
      for (let i = 0; i < 4; i++)
        answers.push(await (i % 2 === 0 ? a : b).me(basic('spread', wrongSecret(300 + i))));
      const fifth = await a.me(basic('spread', wrongSecret(304)));
      const sixth = await b.me(basic('spread', wrongSecret(305)));

      expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401]);
      expect([fifth.status, sixth.status]).toEqual([429, 429]);
      expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(issuer.issuer.grantCount('spread')).toBe(4);
    });

    it('still admits a right secret that got a token on another instance, once that token is gone', async () => {
      const [a, b] = apps;
      const right = basic('exempt', CLIENTS.exempt);
      expect((await a.me(right)).status).toBe(200);
      const raw = new Redis(redis.url);
      try {
        const entries = await raw.keys('v3t:{c.*}');
        expect(entries).toHaveLength(1);
        await raw.del(...entries);
      } finally {
        raw.disconnect();
      }

      for (let i = 0; i < 4; i++) await a.me(basic('exempt', wrongSecret(400 + i)));
      const wrongOnB = await b.me(basic('exempt', wrongSecret(404)));
      const rightOnB = await b.me(right);

      expect(wrongOnB.status).toBe(429);
      expect(rightOnB.status).toBe(200);
      expect(issuer.issuer.successfulGrants('exempt')).toBe(2);
    });
  });
});
