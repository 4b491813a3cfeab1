import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { FAULT_HMAC_KEY, startGateway, type GatewayInstance } from '../../../test/faults/fault-harness.js';
import { startRedisServer, type PrivateRedis } from '../../../test/support/redis-server.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

const CLIENTS: Record<string, string> = {
  sequential: 'seq-secret-1',
  concurrent: 'con-secret-2',
  uncapped: 'unc-secret-3',
  'with-body': 'bod-secret-4',
  fleet: 'flt-secret-5',
  'fleet-concurrent': 'flc-secret-6',
  guarded: 'grd-secret-7',
  waiting: 'wai-secret-8',
  outage: 'out-secret-9',
  bearer: 'bea-secret-10',
};
const basic = (id: string) => `Basic ${Buffer.from(`${id}:${CLIENTS[id]}`).toString('base64')}`;
const REFUSED = '/echo/status/401';
const form = (id: string) => ({
  grant_type: 'client_credentials',
  client_id: id,
  client_secret: CLIENTS[id],
});
const COOLDOWN_MS = 30_000;

/**
 * Grants a client may cost in `elapsedMs` against a downstream that refuses every token: per cooldown window, the
 * grant of the first request that finds no window open and the one re-grant the window allows.
 */
const grantBound = (elapsedMs: number): number => 2 * (1 + Math.floor(elapsedMs / COOLDOWN_MS));

/** Runs `total` calls of `call`, `concurrency` at a time. */
async function load(total: number, concurrency: number, call: () => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started += 1;
      statuses.push(await call());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

/**
 * Issue 11 item 4: a downstream that answers every request 401 costs at most one re-grant per client credentials per
 * `GATEWAY_REAUTH_COOLDOWN_MS`, and each token it refused is evicted and never handed out again. The real gateway,
 * the sandbox token endpoint (which counts grants) and an echo downstream whose `/status/401` always refuses.
 */
describe('gateway: downstream 401 re-grant cooldown', () => {
  let issuer: TokenServer;
  let echo: EchoServer;
  let redis: PrivateRedis;
  const closers: (() => Promise<void>)[] = [];

  const gateway = async (env: Record<string, string> = {}): Promise<GatewayInstance> => {
    const instance = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/echo=${echo.url}`,
      ...env,
    });
    closers.push(() => instance.close());
    return instance;
  };

  /** Access tokens the downstream was sent with `authorization` … by any client. */
  const relayedTokens = (): Set<string> =>
    new Set(echo.seen.map((seen) => (seen.headers.authorization ?? '').replace(/^Bearer /, '')));

  beforeAll(async () => {
    [issuer, echo, redis] = await Promise.all([
      startTokenServer({ clients: CLIENTS }),
      startEchoServer(),
      startRedisServer(),
    ]);
  });

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    echo.seen.length = 0;
  });

  afterAll(async () => {
    await Promise.all([issuer.close(), echo.close(), redis.stop()]);
  });

  it('20 sequential requests to a route that always answers 401 cost one grant and one re-grant', async () => {
    const gw = await gateway({ GATEWAY_REAUTH_COOLDOWN_MS: String(10 * 60_000) });
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await gw.get(REFUSED, basic('sequential')));

    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(401));
    for (const answer of answers) {
      expect(answer.headers.get('www-authenticate')).toBeTruthy();
      expect(answer.body).toBeDefined();
    }
    // The first request's grant, and the one re-grant its retry spent; the other 19 were answered by the cooldown.
    expect(issuer.issuer.grantCount('sequential')).toBe(2);
    expect(echo.seen).toHaveLength(2);
    expect(answers.slice(1).every((answer) => answer.body?.oauthError === 'invalid_token')).toBe(true);
    expect(await gw.metric('gateway_reauth_cooldown_total')).toBe(19);

    const refused = relayedTokens();
    const handedOut = await gw.token({
      grant_type: 'client_credentials',
      client_id: 'sequential',
      client_secret: CLIENTS.sequential,
    });
    // POST /token passes the same gate: no grant for these credentials in the window, and no refused token back.
    expect(handedOut.status).toBe(401);
    expect(handedOut.body?.error).toBe('invalid_token');
    expect(handedOut.body?.access_token).toBeUndefined();
    expect(issuer.issuer.grantCount('sequential')).toBe(2);
    const bearer = await gw.get(REFUSED, `Bearer ${[...refused][0]}`);
    expect(bearer.status).toBe(401);
  }, 60_000);

  it('1000 requests at concurrency 20 cost one grant and one re-grant', async () => {
    const gw = await gateway({ GATEWAY_REAUTH_COOLDOWN_MS: String(COOLDOWN_MS) });
    const started = Date.now();
    const statuses = await load(1000, 20, async () => (await gw.get(REFUSED, basic('concurrent'))).status);
    const elapsedMs = Date.now() - started;

    expect(statuses).toHaveLength(1000);
    expect(statuses.every((status) => status === 401)).toBe(true);
    // The 20 first requests share one grant (single flight); the first 401 opens the window and spends its
    // re-grant; everything after finds its token evicted and the re-grant spent: 2 grants per 30 s window (on an
    // idle machine the run takes well under one window, so 2 in all).
    const grants = issuer.issuer.grantCount('concurrent');
    expect(grants).toBeGreaterThanOrEqual(1);
    expect(grants).toBeLessThanOrEqual(grantBound(elapsedMs));
    expect(echo.seen.length).toBeLessThanOrEqual(20 * grants);
    expect(await gw.metric('gateway_reauth_cooldown_total')).toBeGreaterThanOrEqual(1000 - 20 * grants);
  }, 180_000);

  it('a request with a body is not replayed: its 401 is relayed and the next request spends the re-grant', async () => {
    const gw = await gateway();
    const post = () =>
      fetch(`${gw.url}${REFUSED}`, {
        method: 'POST',
        headers: { authorization: basic('with-body'), 'content-type': 'text/plain' },
        body: 'payload',
      });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await post()).status);

    expect(statuses).toEqual(Array(5).fill(401));
    expect(issuer.issuer.grantCount('with-body')).toBe(2);
    expect(echo.seen).toHaveLength(2);
    expect(echo.seen[0].headers.authorization).not.toBe(echo.seen[1].headers.authorization);
  });

  /** Two gateways sharing one Redis (and cache key), as a fleet runs. */
  const fleet = async (): Promise<[GatewayInstance, GatewayInstance]> => {
    const env = {
      GATEWAY_REAUTH_COOLDOWN_MS: String(10 * 60_000),
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
    };
    return [await gateway(env), await gateway(env)];
  };

  it('two instances on one Redis: 20 requests alternating between them cost one grant and one re-grant in all', async () => {
    const [a, b] = await fleet();
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await (i % 2 === 0 ? a : b).get(REFUSED, basic('fleet')));

    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(401));
    // The window the first refusal opened on instance a is the window instance b asks before its grant.
    expect(issuer.issuer.grantCount('fleet')).toBe(2);
    expect(echo.seen).toHaveLength(2);
    expect(
      (await a.metric('gateway_reauth_cooldown_total')) + (await b.metric('gateway_reauth_cooldown_total')),
    ).toBe(19);
    expect(answers[1].body?.oauthError).toBe('invalid_token');
    expect(answers[1].body?.message).toMatch(/no new token is granted for them for \d+ s/);
  }, 60_000);

  it('two instances on one Redis: 400 concurrent requests spread over both cost one grant and one re-grant', async () => {
    const [a, b] = await fleet();
    let turn = 0;
    const statuses = await load(400, 20, async () => {
      turn += 1;
      return (await (turn % 2 === 0 ? a : b).get(REFUSED, basic('fleet-concurrent'))).status;
    });

    expect(statuses.every((status) => status === 401)).toBe(true);
    // One first grant over both instances (the store lock single-flights it), and the one re-grant the window allows:
    // the instance that does not hold the lock waits for the other's token instead of granting or answering 401.
    expect(issuer.issuer.grantCount('fleet-concurrent')).toBeLessThanOrEqual(2);
    expect(issuer.issuer.grantCount('fleet-concurrent')).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a wrong secret for the same client id meets no window and leaves the owner its re-grant', async () => {
    const [a, b] = await fleet();
    // A request with a body is not retried: its 401 opens the window and leaves the one re-grant unspent.
    const posted = await fetch(`${a.url}${REFUSED}`, {
      method: 'POST',
      headers: { authorization: basic('guarded'), 'content-type': 'text/plain' },
      body: 'payload',
    });
    expect(posted.status).toBe(401);
    const wrong = `Basic ${Buffer.from('guarded:not-the-secret').toString('base64')}`;
    const guessed = await b.get(REFUSED, wrong);
    // The issuer's refusal of the wrong secret, not the cooldown's invalid_token.
    expect(guessed.status).toBe(401);
    expect(guessed.body?.oauthError).toBe('unauthorized_client');
    // The owner's re-grant is still there: one more grant, then the cooldown.
    expect((await b.get(REFUSED, basic('guarded'))).status).toBe(401);
    expect(issuer.issuer.successfulGrants('guarded')).toBe(2);
    const after = await a.get(REFUSED, basic('guarded'));
    expect(after.body?.oauthError).toBe('invalid_token');
    expect(issuer.issuer.successfulGrants('guarded')).toBe(2);
  });

  it("while one instance's re-grant is at the issuer, the other instance waits for that token instead of answering 401", async () => {
    const [a, b] = await fleet();
    const { access_token: first } = (await a.token(form('waiting'))).body as { access_token: string };
    expect((await b.get('/echo/ok', basic('waiting'))).status).toBe(200);
    issuer.issuer.setFaults({ mode: 'slow', delayMs: 600 });
    try {
      echo.refuseOnce.add(first);
      const retried = a.get('/echo/refuse-once', basic('waiting'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The token is evicted everywhere and a's re-grant is waiting on the issuer: b's request needs a grant too.
      const meanwhile = await b.get('/echo/ok', basic('waiting'));
      expect(meanwhile.status).toBe(200);
      expect((await retried).status).toBe(200);
    } finally {
      issuer.issuer.setFaults({ mode: 'none' });
    }
    expect(issuer.issuer.successfulGrants('waiting')).toBe(2);
    const relayed = echo.seen.filter((seen) => seen.url.endsWith('/ok')).at(-1)?.headers.authorization;
    expect(relayed).not.toBe(`Bearer ${first}`);
  }, 30_000);

  it('a re-grant the issuer failed is given back: once the issuer is back, the credentials get their token', async () => {
    const [a, b] = await fleet();
    const { access_token: first } = (await a.token(form('outage'))).body as { access_token: string };
    echo.refuseOnce.add(first);
    issuer.issuer.setFaults({ mode: 'unavailable', retryAfterSeconds: 1 });
    let failed;
    try {
      failed = await a.get('/echo/refuse-once', basic('outage'));
    } finally {
      issuer.issuer.setFaults({ mode: 'none' });
    }
    expect(failed.status).toBe(503);
    // The window stays open, but its re-grant was not used up by the outage.
    const after = await b.get('/echo/refuse-once', basic('outage'));
    expect(after.status).toBe(200);
    expect(issuer.issuer.successfulGrants('outage')).toBe(2);
  }, 30_000);

  it('a Bearer caller: a refused token opens the window of the credentials POST /token granted it to', async () => {
    const [a, b] = await fleet();
    const bearerTokens: string[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const issued = await (i % 2 === 0 ? a : b).token(form('bearer'));
      statuses.push(issued.status);
      if (issued.status !== 200) break;
      const token = issued.body?.access_token as string;
      bearerTokens.push(token);
      expect((await (i % 2 === 0 ? b : a).get(REFUSED, `Bearer ${token}`)).status).toBe(401);
    }
    // The first grant, the window's one re-grant, then the cooldown: POST /token grants no third token.
    expect(statuses).toEqual([200, 200, 401]);
    expect(new Set(bearerTokens).size).toBe(2);
    expect(issuer.issuer.successfulGrants('bearer')).toBe(2);
  });

  it('with GATEWAY_REAUTH_COOLDOWN_MS=0 every refused request costs a re-grant (what the cooldown prevents)', async () => {
    const gw = await gateway({ GATEWAY_REAUTH_COOLDOWN_MS: '0' });
    for (let i = 0; i < 5; i++) expect((await gw.get(REFUSED, basic('uncapped'))).status).toBe(401);
    expect(issuer.issuer.grantCount('uncapped')).toBe(10);
    expect(await gw.metric('gateway_reauth_cooldown_total')).toBe(0);
  });
});
