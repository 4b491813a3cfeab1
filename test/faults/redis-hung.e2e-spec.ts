import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { sleep } from '../support/wait.js';
import {
  clientCredentialsForm,
  FAULT_HMAC_KEY,
  type GatewayInstance,
  startGateway,
} from './fault-harness.js';

const CLIENTS: Record<string, string> = Object.fromEntries(
  [
    'first-miss',
    'second-miss',
    'third-miss',
    ...Array.from({ length: 10 }, (_, i) => `after-resume-${i}`),
  ].map((id) => [id, `${id}-secret`]),
);
const form = clientCredentialsForm(CLIENTS);

/**
 * A hung Redis (SIGSTOP: its connections stay open, nothing answers). Each cache miss sends about a dozen commands
 * (throttle state, entry, lock, counts, known-good mark …), each with its own command timeout: without the store's
 * stall detection every miss waited for all of them, about 6 s.
 */
describe('faults: a hung Redis', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([startTokenServer({ clients: CLIENTS }), startRedisServer()]);
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
    });
  });

  afterAll(async () => {
    redis?.resume();
    await gateway?.close();
    await Promise.all([issuer?.close(), redis?.stop()]);
  });

  it('costs a cache miss one command timeout, not one per command, and uses Redis again once it answers', async () => {
    redis.pause();
    const first = await gateway.token(form('first-miss'));
    expect(first.status).toBe(200);
    // The first miss met the timeout; the next ones find the stall noticed and skip Redis at once.
    const second = await gateway.token(form('second-miss'));
    const third = await gateway.token(form('third-miss'));
    expect([second.status, third.status]).toEqual([200, 200]);
    expect(second.ms).toBeLessThan(1500);
    expect(third.ms).toBeLessThan(1500);
    expect(first.ms + second.ms + third.ms).toBeLessThan(4000);

    redis.resume();
    // Once a probing PING answers, a new client's miss goes through Redis again without a store error.
    let clean = false;
    for (let i = 0; i < 10 && !clean; i++) {
      await sleep(500);
      const before = await gateway.metric('v3_token_store_errors_total');
      expect((await gateway.token(form(`after-resume-${i}`))).status).toBe(200);
      clean = (await gateway.metric('v3_token_store_errors_total')) === before;
    }
    expect(clean).toBe(true);
  }, 30_000);
});
