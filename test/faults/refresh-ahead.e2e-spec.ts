import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { eventually, sleep } from '../support/v3-token-auth-app.js';
import { FAULT_HMAC_KEY, startGateway, type GatewayInstance } from './fault-harness.js';

const GATEWAY_CLIENT = { id: 'gateway-itself', secret: 'gateway-itself-secret' };
const CLIENTS: Record<string, string> = {
  [GATEWAY_CLIENT.id]: GATEWAY_CLIENT.secret,
  renewed: 'renewed-secret',
};
const USERS: Record<string, string> = { jdoe: 'jdoe-password' };
const LIFETIME_SECONDS = 4;

interface RenewalCase {
  name: string;
  env: Record<string, string>;
  form: Record<string, string>;
  /** grant_type of the background renewal. */
  renewal: string;
}

const cases: RenewalCase[] = [
  {
    name: 'client_credentials (renewed with the request credentials)',
    env: {},
    form: { grant_type: 'client_credentials', client_id: 'renewed', client_secret: CLIENTS.renewed },
    renewal: 'client_credentials',
  },
  {
    name: 'password (renewed with its refresh token)',
    env: {
      V3_GRANT_TYPE: 'password',
      V3_CLIENT_ID: GATEWAY_CLIENT.id,
      V3_CLIENT_SECRET: GATEWAY_CLIENT.secret,
    },
    form: { grant_type: 'password', username: 'jdoe', password: USERS.jdoe },
    renewal: 'refresh_token',
  },
];

/**
 * Issue 4, item 2: refresh ahead across two real gateway instances sharing a real Redis, against the sandbox
 * issuing 4-second tokens (TOKEN_EXPIRY_SKEW_SECONDS=0, the default refresh point of 80 % plus jitter).
 */
describe('faults: refresh ahead across instances', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  const gateways: GatewayInstance[] = [];

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([
      startTokenServer({ clients: CLIENTS, users: USERS }),
      startRedisServer(),
    ]);
  });

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
    issuer.issuer.reset();
  });

  afterAll(async () => {
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it.each(cases)(
    '$name: one background renewal across instances, the current token serving meanwhile',
    async (c) => {
      const env = {
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
        REDIS_URL: redis.url,
        TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
        TOKEN_EXPIRY_SKEW_SECONDS: '0',
        ...c.env,
      };
      const [first, second] = [await startGateway(env), await startGateway(env)];
      gateways.push(first, second);
      issuer.issuer.lifetimes = { tokenLifetimeSeconds: LIFETIME_SECONDS };
      const started = Date.now();

      const original = await first.token(c.form);
      expect(original.status).toBe(200);
      const token = original.body?.access_token;

      await sleep(started + 2000 - Date.now());
      const halfway = await Promise.all([first.token(c.form), second.token(c.form)]);
      expect(halfway.map((answer) => answer.body?.access_token)).toEqual([token, token]);
      await sleep(200);
      expect(issuer.issuer.grantCount()).toBe(1);

      issuer.issuer.setFaults({ mode: 'slow', delayMs: 500 });
      await sleep(started + 3400 - Date.now());
      const late = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? first : second).token(c.form)),
      );

      expect(late.map((answer) => answer.status)).toEqual(late.map(() => 200));
      expect(late.map((answer) => answer.body?.access_token)).toEqual(late.map(() => token));
      expect(Math.max(...late.map((answer) => answer.ms))).toBeLessThan(400);
      expect(await eventually(() => issuer.issuer.successfulGrants() === 2, 2000)).toBe(true);
      issuer.issuer.setFaults({ mode: 'none' });
      expect(issuer.issuer.grants.map((grant) => grant.grantType)).toEqual([c.form.grant_type, c.renewal]);

      await sleep(started + LIFETIME_SECONDS * 1000 + 300 - Date.now());
      const after = await Promise.all([first.token(c.form), second.token(c.form)]);
      expect(after.map((answer) => answer.status)).toEqual([200, 200]);
      expect(after[0].body?.access_token).not.toBe(token);
      expect(after[1].body?.access_token).toBe(after[0].body?.access_token);
      expect(issuer.issuer.grantCount()).toBe(2);
      const started1 = await first.metric('v3_token_refresh_ahead_total', { outcome: 'started' });
      const started2 = await second.metric('v3_token_refresh_ahead_total', { outcome: 'started' });
      expect(started1 + started2).toBeGreaterThanOrEqual(1);
      expect(
        (await first.metric('v3_token_refresh_ahead_total', { outcome: 'success' })) +
          (await second.metric('v3_token_refresh_ahead_total', { outcome: 'success' })),
      ).toBeGreaterThanOrEqual(1);
    },
  );
});
