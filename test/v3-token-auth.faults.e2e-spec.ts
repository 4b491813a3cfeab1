import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startTokenServer, type SandboxFaults, type TokenServer } from './support/token-server.js';
import { basic, sleep, moduleApps } from './support/v3-token-auth-app.js';

const CLIENTS: Record<string, string> = {
  warm: 'warm-secret-1',
  cold: 'cold-secret-2',
  faulted: 'faulted-secret-3',
};

describe('V3TokenAuthModule when the token endpoint fails (real token endpoint with fault injection)', () => {
  let issuer: TokenServer;
  const { start, closeAll } = moduleApps(() => issuer.tokenUrl);

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: CLIENTS });
  });

  afterEach(async () => {
    await closeAll();
    issuer.issuer.reset();
  });

  afterAll(() => issuer.close());

  it('answers 503 with Retry-After during an issuer outage, while cached tokens keep working', async () => {
    const app = await start({ circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 300 } });
    const warm = await app.me(basic('warm', CLIENTS.warm));
    expect(warm.status).toBe(200);

    issuer.issuer.setFaults({ mode: 'unavailable', retryAfterSeconds: 2 });
    const outage = [];
    for (let i = 0; i < 4; i++) outage.push(await app.me(basic('cold', CLIENTS.cold)));
    for (const answer of outage) {
      expect(answer.status).toBe(503);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.body).toMatchObject({ statusCode: 503 });
      expect(answer.text).not.toContain(CLIENTS.cold);
    }

    const cached = await app.me(basic('warm', CLIENTS.warm));
    expect(cached.status).toBe(200);
    expect(cached.body?.accessToken).toBe(warm.body?.accessToken);

    issuer.issuer.setFaults({ mode: 'none' });
    await sleep(400);
    const recovered = await app.me(basic('cold', CLIENTS.cold));
    expect(recovered.status).toBe(200);
    expect(issuer.issuer.successfulGrants('cold')).toBe(1);
  });

  it.each<[Partial<SandboxFaults>, number, string | undefined]>([
    // The issuer's 429 is this client's: answered 429 and honoured until its Retry-After (the healed call too).
    [{ mode: 'rate_limited', retryAfterSeconds: 7 }, 429, '7'],
    [{ mode: 'unavailable', status: 500, retryAfterSeconds: 0 }, 503, undefined],
    [{ mode: 'drop' }, 503, undefined],
    [{ mode: 'slow', delayMs: 2000 }, 503, undefined],
    [{ mode: 'html' }, 502, undefined],
    [{ mode: 'malformed' }, 502, undefined],
  ])(
    'maps issuer fault %j to %d (never 401 or 500) and caches nothing',
    async (faults, status, retryAfter) => {
      // Only the slow fault needs a short timeout; elsewhere a loaded CI machine must not turn a 502 into a timeout.
      const timeoutMs = faults.mode === 'slow' ? 300 : 1500;
      const app = await start({ timeoutMs, circuitBreaker: { failureThreshold: 50 } });
      issuer.issuer.setFaults(faults);
      const header = basic('faulted', CLIENTS.faulted);

      const answer = await app.me(header);
      expect(answer.status).toBe(status);
      expect(answer.body).toMatchObject({ statusCode: status });
      expect(answer.text).not.toContain(CLIENTS.faulted);
      if (status === 503 || status === 429) {
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        if (retryAfter) expect(answer.headers.get('retry-after')).toBe(retryAfter);
      }

      issuer.issuer.setFaults({ mode: 'none' });
      const healed = await app.me(header);
      const heldBack = status === 429;
      expect(healed.status).toBe(heldBack ? 429 : 200);
      expect(issuer.issuer.successfulGrants('faulted')).toBe(heldBack ? 0 : 1);
    },
  );
});
