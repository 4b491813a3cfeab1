import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisTokenStore, TokenStore } from 'nestjs-v3-token-auth';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic, eventually, sleep } from '../support/v3-token-auth-app.js';
import {
  clientCredentialsForm,
  FAULT_HMAC_KEY,
  type GatewayInstance,
  startGateway,
  type TimedAnswer,
} from './fault-harness.js';

const WARM = ['warm-1', 'warm-2', 'warm-3'];
const COLD = ['cold-1', 'cold-2', 'cold-3'];
const CLIENTS: Record<string, string> = Object.fromEntries(
  [...WARM, ...COLD, 'after-restart'].map((id) => [id, `${id}-secret`]),
);
const form = clientCredentialsForm(CLIENTS);

/** Runs `workers` loops of `step` until `durationMs` has passed; answers every result. */
async function underLoad(
  workers: number,
  durationMs: number,
  step: (worker: number, round: number) => Promise<TimedAnswer>,
): Promise<TimedAnswer[]> {
  const deadline = Date.now() + durationMs;
  const answers: TimedAnswer[] = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let round = 0; Date.now() < deadline; round++) answers.push(await step(worker, round));
    }),
  );
  return answers;
}

/**
 * Issue 4, item 3: a real redis-server is SIGKILLed under load behind two real gateway instances, then restarted.
 * In one process Passport's strategy registry is global: proxied requests reach `second`'s service, `POST /token`
 * reaches each gateway's own one.
 */
describe('faults: Redis outage under load', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let first: GatewayInstance;
  let second: GatewayInstance;

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([startTokenServer({ clients: CLIENTS }), startRedisServer()]);
    const env = {
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
    };
    first = await startGateway(env);
    second = await startGateway(env);
  });

  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await Promise.all([issuer.close(), redis.stop()]);
  });

  it('bounds the Redis client: no offline queue, a command timeout', () => {
    for (const gateway of [first, second]) {
      const { client } = gateway.app.get<symbol, RedisTokenStore>(TokenStore, { strict: false });
      const options = (client as Redis).options;
      expect(options.enableOfflineQueue).toBe(false);
      expect(options.commandTimeout).toBeGreaterThan(0);
      expect(options.commandTimeout).toBeLessThanOrEqual(1000);
    }
  });

  it('keeps serving cached and new clients while Redis is killed, without stampeding the issuer, and recovers', async () => {
    for (const id of WARM) {
      expect((await first.token(form(id))).status).toBe(200);
      expect((await second.get('/v3/warm', basic(id, CLIENTS[id]))).status).toBe(200);
      expect(issuer.issuer.grantCount(id)).toBe(1);
    }
    const errorsBefore = await first.metric('v3_token_store_errors_total');

    let killed = false;
    const load = underLoad(8, 2000, (worker, round) => {
      const warm = WARM[(worker + round) % WARM.length];
      const cold = COLD[(worker + round) % COLD.length];
      switch (killed ? round % 4 : round % 2) {
        case 0:
          return second.get('/v3/during-outage', basic(warm, CLIENTS[warm]));
        case 1:
          return first.token(form(warm));
        case 2:
          return second.get('/v3/during-outage', basic(cold, CLIENTS[cold]));
        default:
          return first.token(form(cold));
      }
    });
    await sleep(400);
    await redis.kill();
    killed = true;
    expect(
      await eventually(
        () => first.tokens.health().store === 'down' && second.tokens.health().store === 'down',
        3000,
      ),
    ).toBe(true);
    const answers = await load;

    expect(answers.length).toBeGreaterThan(40);
    for (const id of COLD) expect(issuer.issuer.successfulGrants(id)).toBeGreaterThanOrEqual(1);
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(2000);
    for (const id of WARM) expect(issuer.issuer.grantCount(id)).toBe(1);
    for (const id of COLD) {
      expect(issuer.issuer.grantCount(id)).toBeGreaterThanOrEqual(1);
      expect(issuer.issuer.grantCount(id)).toBeLessThanOrEqual(2);
    }

    for (const gateway of [first, second]) {
      const health = await gateway.health();
      expect(health.status).toBe(200);
      expect(health.text).toMatch(/redis/);
      expect(JSON.stringify(health.body)).toContain('"state":"down"');
    }
    expect(await first.metric('v3_token_store_errors_total')).toBeGreaterThan(errorsBefore);
    expect(await first.metric('v3_token_lock_waits_total', { outcome: 'fallback' })).toBeGreaterThanOrEqual(
      1,
    );

    await redis.restart();
    expect(
      await eventually(
        () => first.tokens.health().store === 'up' && second.tokens.health().store === 'up',
        10_000,
      ),
    ).toBe(true);
    const health = await first.health();
    expect(health.status).toBe(200);
    expect(JSON.stringify(health.body)).toContain('"state":"up"');

    const raw = new Redis(redis.url);
    try {
      expect(await raw.dbsize()).toBe(0);
      const issued = await first.token(form('after-restart'));
      expect(issued.status).toBe(200);
      expect((await raw.keys('v3t:{c.*}')).length).toBe(1);
      const proxied = await second.get('/v3/after', basic('after-restart', CLIENTS['after-restart']));
      expect(proxied.status).toBe(200);
      expect(issuer.issuer.grantCount('after-restart')).toBe(1);
    } finally {
      raw.disconnect();
    }
  });
});
