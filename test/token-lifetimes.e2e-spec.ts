import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { V3TokenAuthObserver } from 'nestjs-v3-token-auth';
import {
  CountingObserver,
  startGateway,
  startModuleApp,
  type GatewayInstance,
  type ModuleInstance,
} from './faults/fault-harness.js';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import { basic, eventually, sleep } from './support/v3-token-auth-app.js';

const CLIENT = { id: 'lifetimes', secret: 'lifetimes-secret' };

/** A clock only the test moves (real time does not): the module reads every expiry and refresh point from it. */
class SteppedClock {
  private current = Date.now();
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** Counts, besides every event, the request-path events a caller waits on: a miss (then a grant) or a shared flight. */
class RequestPathObserver extends CountingObserver implements V3TokenAuthObserver {
  waits = 0;
  cacheMiss(): void {
    this.waits += 1;
  }
  singleFlightWait(): void {
    this.waits += 1;
  }
  /** Background renewals started and not yet over. */
  renewalsInFlight(): number {
    return (
      this.count('refreshAhead:started') -
      this.count('refreshAhead:success') -
      this.count('refreshAhead:failed')
    );
  }
}

/**
 * Issue 10, item 3: every lifetime works. The skew is min(expirySkewSeconds, 10 % of the token's life), so a
 * 20-second token under the default 30-second skew counts for 18 s; and with refresh-ahead, steady traffic over more
 * than two lifetimes of 60-second tokens never has a caller wait on a grant.
 */
describe('token lifetimes against the sandbox issuer', () => {
  let server: TokenServer;
  let gateway: GatewayInstance | undefined;
  let instance: ModuleInstance | undefined;

  beforeAll(async () => {
    server = await startTokenServer({ clients: { [CLIENT.id]: CLIENT.secret } });
  });

  afterEach(async () => {
    await Promise.all([gateway?.close(), instance?.close()]);
    gateway = undefined;
    instance = undefined;
    server.issuer.reset();
    server.issuer.lifetimes = {};
  });

  afterAll(async () => {
    await server.close();
  });

  it('gateway: 30 requests in 3 s with 20-second tokens (default 30 s skew) make 1 grant', async () => {
    server.issuer.lifetimes = { tokenLifetimeSeconds: 20 };
    // Refresh-ahead off, so that on a loaded machine a run past 14.4 s cannot add a background grant: this is the
    // skew rule alone (fresh for 18 s).
    gateway = await startGateway({
      V3_TOKEN_URL: server.tokenUrl,
      GATEWAY_ROUTES: `/v3=${server.baseUrl}`,
      TOKEN_REFRESH_AHEAD_RATIO: '0',
    });
    const statuses: number[] = [];
    const tokens = new Set<unknown>();
    const form = { grant_type: 'client_credentials', client_id: CLIENT.id, client_secret: CLIENT.secret };
    const started = Date.now();
    for (let i = 0; i < 30; i++) {
      await sleep(Math.max(0, started + i * 100 - Date.now()));
      const answer = await gateway.token(form);
      statuses.push(answer.status);
      tokens.add(answer.body?.access_token);
    }
    expect(statuses).toEqual(Array(30).fill(200));
    expect(tokens.size).toBe(1);
    expect(server.issuer.successfulGrants(CLIENT.id)).toBe(1);
  }, 60_000);

  it('module: a 20-second token counts for 18 s (skew 2 s = 10 % of its life), then is granted again', async () => {
    server.issuer.lifetimes = { tokenLifetimeSeconds: 20 };
    const clock = new SteppedClock();
    instance = await startModuleApp({
      tokenUrl: server.tokenUrl,
      clock,
      refreshAheadRatio: 0,
      retry: { attempts: 1 },
    });
    const header = basic(CLIENT.id, CLIENT.secret);
    const first = await instance.me(header);
    expect(first.status).toBe(200);
    for (let elapsed = 200; elapsed < 18_000; elapsed += 200) {
      clock.advance(200);
      const answer = await instance.me(header);
      expect(answer.body?.accessToken).toBe(first.body?.accessToken);
    }
    expect(server.issuer.successfulGrants(CLIENT.id)).toBe(1);
    clock.advance(200);
    const renewed = await instance.me(header);
    expect(renewed.status).toBe(200);
    expect(renewed.body?.accessToken).not.toBe(first.body?.accessToken);
    expect(server.issuer.successfulGrants(CLIENT.id)).toBe(2);
  }, 120_000);

  it('module: steady traffic over 2.5 lifetimes of 60-second tokens never has a caller wait on a grant', async () => {
    server.issuer.lifetimes = { tokenLifetimeSeconds: 60 };
    const clock = new SteppedClock();
    const observer = new RequestPathObserver();
    instance = await startModuleApp({ tokenUrl: server.tokenUrl, clock, observer, retry: { attempts: 1 } });
    const header = basic(CLIENT.id, CLIENT.secret);
    expect((await instance.me(header)).status).toBe(200);
    expect(observer.waits).toBe(1);

    const waitedOn: number[] = [];
    const tokens = new Set<unknown>();
    const STEP_MS = 1000;
    for (let elapsed = STEP_MS; elapsed <= 150_000; elapsed += STEP_MS) {
      // Time passes no faster than the issuer answers: a renewal started in the background ends before the next
      // second (the requests themselves never wait for it).
      if (!(await eventually(() => observer.renewalsInFlight() === 0, 10_000))) {
        throw new Error('a background renewal did not end within 10 s');
      }
      clock.advance(STEP_MS);
      const before = observer.waits;
      const answer = await instance.me(header);
      expect(answer.status).toBe(200);
      tokens.add(answer.body?.accessToken);
      if (observer.waits !== before) waitedOn.push(elapsed);
    }
    expect(waitedOn).toEqual([]);
    expect(observer.count('refreshAhead:success')).toBeGreaterThanOrEqual(2);
    expect(observer.count('refreshAhead:failed')).toBe(0);
    expect(tokens.size).toBe(observer.count('refreshAhead:success') + 1);
    expect(server.issuer.successfulGrants()).toBe(observer.count('refreshAhead:success') + 1);
  }, 120_000);
});
