import { describe, expect, it } from '@jest/globals';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import type { CachedToken } from '../store/token-store.interface.js';
import { TokenFingerprinter } from './token-fingerprint.js';
import { resolveV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import type { V3TokenAuthModuleOptions } from '../module/v3-token-auth.options.js';
import type { V3GrantRequest, V3TokenClient } from '../issuer/v3-token.client.js';
import {
  V3BadRequestException,
  V3InvalidCredentialsException,
  V3TooManyAttemptsException,
  V3UnauthorizedException,
} from '../v3-token.exceptions.js';
import type { V3TokenRequestResponse } from '../v3-token.interfaces.js';
import { TokenEndpointError } from '../issuer/token-endpoint.error.js';
import { V3TokenService } from './v3-token.service.js';

const SECRETS: Record<string, string> = { alpha: 'alpha-secret', beta: 'beta-secret' };

/** A unit-level stand-in for the token endpoint: counts grants and checks secrets. */
class FakeClient {
  grants: V3GrantRequest[] = [];
  expiresIn = 300;
  delayMs = 0;
  outage = false;
  breakerState: 'closed' | 'open' | 'half_open' = 'closed';
  private issued = 0;

  async requestToken(grant: V3GrantRequest): Promise<V3TokenRequestResponse> {
    this.grants.push(grant);
    const issuedAt = Date.now();
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.outage) {
      throw new TokenEndpointError({
        kind: 'issuer',
        error: 'temporarily_unavailable',
        retryAfterSeconds: 7,
      });
    }
    if (grant.grantType === 'refresh_token') {
      if (!grant.refreshToken?.startsWith('refresh-'))
        throw new TokenEndpointError({ kind: 'request', status: 400, error: 'invalid_grant' });
    } else if (SECRETS[grant.clientId] !== grant.clientSecret) {
      throw new TokenEndpointError({
        kind: 'credential',
        status: 401,
        error: 'unauthorized_client',
        errorDescription: 'Invalid client credentials',
      });
    } else if (grant.scope?.split(' ').includes('unknown')) {
      throw new TokenEndpointError({ kind: 'request', status: 400, error: 'invalid_scope' });
    }
    this.issued += 1;
    return {
      issuedAt,
      httpMeta: { status: 200, headers: {}, durationMs: 1 },
      v3TokenResponse: {
        access_token: `token-${grant.clientId}-${this.issued}`,
        token_type: 'Bearer',
        expires_in: this.expiresIn,
        refresh_token: `refresh-${this.issued}`,
        refresh_expires_in: 1800,
      },
    };
  }
}

function setup(options: Partial<V3TokenAuthModuleOptions> = {}) {
  const client = new FakeClient();
  const events: string[] = [];
  const observer: V3TokenAuthObserver = {
    cacheHit: (tier) => events.push(`hit:${tier}`),
    cacheMiss: () => events.push('miss'),
    singleFlightWait: () => events.push('wait'),
    throttled: () => events.push('throttled'),
  };
  const resolved = resolveV3TokenAuthOptions({ tokenUrl: 'http://issuer.test/token', observer, ...options });
  const store = new MemoryTokenStore();
  const service = new V3TokenService(
    resolved,
    store,
    client as unknown as V3TokenClient,
    new TokenFingerprinter('unit-test-hmac-key-0123456789abcdef', resolved.tokenUrl),
  );
  return { client, service, store, events };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('V3TokenService', () => {
  it('grants once and serves later requests from the in-process cache', async () => {
    const { client, service, events } = setup();
    const first = await service.authenticate(basic('alpha', 'alpha-secret'));
    const second = await service.authenticate(basic('alpha', 'alpha-secret'));
    expect(first.accessToken).toBe('token-alpha-1');
    expect(second).toBe(first);
    expect(client.grants).toHaveLength(1);
    expect(service.peek(basic('alpha', 'alpha-secret'))).toBe(first);
    expect(events).toContain('hit:memory');
  });

  it('shares one grant between concurrent requests of one client', async () => {
    const { client, service, events } = setup();
    client.delayMs = 30;
    const principals = await Promise.all(
      Array.from({ length: 20 }, () => service.authenticate(basic('alpha', 'alpha-secret'))),
    );
    expect(new Set(principals.map((p) => p.accessToken)).size).toBe(1);
    expect(client.grants).toHaveLength(1);
    expect(events.filter((e) => e === 'wait').length).toBe(19);
  });

  it('never hands a cached token to a wrong secret', async () => {
    const { client, service } = setup();
    await service.authenticate(basic('alpha', 'alpha-secret'));
    expect(service.peek(basic('alpha', 'wrong'))).toBeUndefined();
    await expect(service.authenticate(basic('alpha', 'wrong'))).rejects.toBeInstanceOf(
      V3InvalidCredentialsException,
    );
    expect(client.grants.map((g) => g.clientSecret)).toEqual(['alpha-secret', 'wrong']);
  });

  it('remembers refused credentials briefly so a flood does not reach the issuer', async () => {
    const { client, service } = setup();
    for (let i = 0; i < 5; i += 1) {
      await expect(service.authenticate(basic('alpha', 'wrong'))).rejects.toBeInstanceOf(
        V3InvalidCredentialsException,
      );
    }
    expect(client.grants).toHaveLength(1);
  });

  it('throttles many different wrong secrets without locking out the right one', async () => {
    const { client, service, events } = setup({ maxFailedAttempts: 3, invalidCredentialsTtlMs: 0 });
    await service.authenticate(basic('alpha', 'alpha-secret'));
    client.expiresIn = 300;
    for (let i = 0; i < 3; i += 1) {
      await expect(service.authenticate(basic('alpha', `wrong-${i}`))).rejects.toBeInstanceOf(
        V3InvalidCredentialsException,
      );
    }
    const throttled = await service.authenticate(basic('alpha', 'wrong-9')).catch((error: unknown) => error);
    expect(throttled).toBeInstanceOf(V3TooManyAttemptsException);
    expect((throttled as V3TooManyAttemptsException).headers['Retry-After']).toMatch(/^\d+$/);
    expect(events).toContain('throttled');
    await expect(service.authenticate(basic('alpha', 'alpha-secret'))).resolves.toMatchObject({
      clientId: 'alpha',
    });
  });

  it('answers a refused request 400 with the issuer error, never remembered against the secret nor counted', async () => {
    const { client, service } = setup({ maxFailedAttempts: 2 });
    for (let i = 0; i < 6; i += 1) {
      const refused = await service
        .authenticate(basic('alpha', 'alpha-secret'), { scope: 'read unknown' })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(V3BadRequestException);
      expect((refused as V3BadRequestException).getStatus()).toBe(400);
      expect((refused as V3BadRequestException).oauthError).toBe('invalid_scope');
    }
    await expect(
      service.authenticate(basic('alpha', 'alpha-secret'), { scope: 'read' }),
    ).resolves.toMatchObject({
      clientId: 'alpha',
    });
    expect(client.grants).toHaveLength(7);
  });

  it('keeps clients apart', async () => {
    const { service } = setup();
    const alpha = await service.authenticate(basic('alpha', 'alpha-secret'));
    const beta = await service.authenticate(basic('beta', 'beta-secret'));
    expect(alpha.accessToken).not.toBe(beta.accessToken);
    await expect(service.authenticate(basic('beta', 'alpha-secret'))).rejects.toBeInstanceOf(
      V3InvalidCredentialsException,
    );
  });

  it('reuses a token that lives less than the skew: the skew is at most a tenth of its life', async () => {
    const { client, service } = setup({ expirySkewSeconds: 30 });
    client.expiresIn = 20;
    const first = await service.authenticate(basic('alpha', 'alpha-secret'));
    for (let i = 0; i < 10; i++) {
      expect((await service.authenticate(basic('alpha', 'alpha-secret'))).accessToken).toBe(
        first.accessToken,
      );
    }
    expect(client.grants).toHaveLength(1);
  });

  it('keeps tokens of another scope set apart and shares one across scope order', async () => {
    const { client, service } = setup();
    const header = basic('alpha', 'alpha-secret');
    const read = await service.authenticate(header, { scope: 'read' });
    const write = await service.authenticate(header, { scope: 'write' });
    expect(write.accessToken).not.toBe(read.accessToken);
    const both = await service.authenticate(header, { scope: 'write read' });
    expect((await service.authenticate(header, { scope: ['read', 'write', 'read'] })).accessToken).toBe(
      both.accessToken,
    );
    expect(service.peek(header, { scope: 'read' })?.accessToken).toBe(read.accessToken);
    expect(client.grants.map((grant) => grant.scope)).toEqual(['read', 'write', 'read write']);
  });

  it('grants again once a short-lived token has expired', async () => {
    const { client, service } = setup({ expirySkewSeconds: 0 });
    client.expiresIn = 1;
    const first = await service.authenticate(basic('alpha', 'alpha-secret'));
    await new Promise((resolve) => setTimeout(resolve, 1050));
    const second = await service.authenticate(basic('alpha', 'alpha-secret'));
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(client.grants).toHaveLength(2);
  });

  it('finds tokens it handed out by bearer, and refuses unknown ones', async () => {
    const { service } = setup();
    const issued = await service.issueToken({
      grant_type: 'client_credentials',
      client_id: 'alpha',
      client_secret: 'alpha-secret',
    });
    const principal = await service.authenticate(`Bearer ${issued.access_token}`);
    expect(principal.clientId).toBe('alpha');
    await expect(service.authenticate('Bearer not-a-token-we-issued')).rejects.toBeInstanceOf(
      V3UnauthorizedException,
    );
  });

  it('accepts a Bearer token for a resource only when it was granted for that resource', async () => {
    const { service } = setup();
    const forOrders = await service.issueToken({
      grant_type: 'client_credentials',
      client_id: 'alpha',
      client_secret: 'alpha-secret',
      resource: 'https://orders.example',
    });
    const forNone = await service.issueToken({
      grant_type: 'client_credentials',
      client_id: 'beta',
      client_secret: 'beta-secret',
    });
    const orders = { resource: 'https://orders.example' };
    const principal = await service.authenticate(`Bearer ${forOrders.access_token}`, orders);
    expect(principal.audience).toEqual(['https://orders.example']);
    expect(service.peek(`Bearer ${forOrders.access_token}`, orders)).toBe(principal);
    for (const [token, resource] of [
      [forOrders.access_token, 'https://billing.example'],
      [forNone.access_token, 'https://orders.example'],
    ]) {
      for (let attempt = 0; attempt < 2; attempt++) {
        await expect(service.authenticate(`Bearer ${token}`, { resource })).rejects.toMatchObject({
          status: 401,
          oauthError: 'invalid_token',
          message: `The token is not meant for ${resource} (its audience does not list it)`,
        });
        expect(service.peek(`Bearer ${token}`, { resource })).toBeUndefined();
      }
    }
    expect((await service.authenticate(`Bearer ${forNone.access_token}`)).clientId).toBe('beta');
    const granted = await service.authenticate(basic('beta', 'beta-secret'), orders);
    expect(granted.audience).toEqual(['https://orders.example']);
  });

  it('answers the token endpoint with the remaining lifetime', async () => {
    const { client, service } = setup();
    client.expiresIn = 120;
    const first = await service.issueToken({
      grant_type: 'client_credentials',
      client_id: 'alpha',
      client_secret: 'alpha-secret',
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await service.issueToken({
      grant_type: 'client_credentials',
      client_id: 'alpha',
      client_secret: 'alpha-secret',
    });
    expect(again.access_token).toBe(first.access_token);
    expect(first.expires_in).toBeGreaterThanOrEqual(119);
    expect(again.expires_in).toBeLessThan(first.expires_in);
    expect(client.grants).toHaveLength(1);
  });

  it('validates token endpoint requests', async () => {
    const { service } = setup();
    await expect(
      service.issueToken({ grant_type: 'client_credentials', client_id: 'alpha' }),
    ).rejects.toMatchObject({
      status: 400,
    });
    await expect(
      service.issueToken({ grant_type: 'implicit' } as unknown as Parameters<
        V3TokenService['issueToken']
      >[0]),
    ).rejects.toMatchObject({ oauthError: 'unsupported_grant_type' });
    await expect(
      service.issueToken({
        grant_type: 'client_credentials',
        client_id: 'alpha',
        client_secret: 42,
      } as never),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('adds its own client to the password grant', async () => {
    const { client, service } = setup({
      grantType: 'password',
      clientId: 'alpha',
      clientSecret: 'alpha-secret',
    });
    const principal = await service.authenticate(basic('jdoe', 'pw'));
    expect(principal.username).toBe('jdoe');
    expect(client.grants[0]).toMatchObject({
      grantType: 'password',
      clientId: 'alpha',
      username: 'jdoe',
      password: 'pw',
    });
  });

  it('renews ahead of expiry with the refresh token while the old token keeps serving', async () => {
    const { client, service } = setup({ refreshAheadRatio: 0.01, expirySkewSeconds: 0 });
    client.expiresIn = 60;
    const header = basic('alpha', 'alpha-secret');
    const first = await service.authenticate(header);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const during = await service.authenticate(header);
    expect(during.accessToken).toBe(first.accessToken);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await service.authenticate(header);
    expect(client.grants.map((g) => g.grantType)).toEqual(['client_credentials', 'refresh_token']);
    expect(after.accessToken).not.toBe(first.accessToken);
  });

  it('evicts a token a downstream refused, only while it is still the cached one', async () => {
    const { client, service } = setup();
    const header = basic('alpha', 'alpha-secret');
    const first = await service.authenticate(header);
    await service.invalidate(first);
    const second = await service.authenticate(header);
    expect(second.accessToken).not.toBe(first.accessToken);
    await service.invalidate(first);
    expect(await service.authenticate(header)).toBe(second);
    expect(client.grants).toHaveLength(2);
  });

  it('evicts by the access token alone from every tier, POST /token and Bearer included', async () => {
    const { client, service, store } = setup();
    const header = basic('alpha', 'alpha-secret');
    const first = await service.authenticate(header);
    expect(service.peek(header)).toBe(first);
    await service.invalidate(first.accessToken);
    expect(service.peek(header)).toBeUndefined();
    await expect(service.authenticate(`Bearer ${first.accessToken}`)).rejects.toMatchObject({ status: 401 });
    const issued = await service.issueToken({
      grant_type: 'client_credentials',
      client_id: 'alpha',
      client_secret: 'alpha-secret',
    });
    expect(issued.access_token).not.toBe(first.accessToken);
    expect((await service.authenticate(header)).accessToken).toBe(issued.access_token);
    expect(client.grants).toHaveLength(2);
    const bearerKey = new TokenFingerprinter(
      'unit-test-hmac-key-0123456789abcdef',
      'http://issuer.test/token',
    ).bearerKey(first.accessToken);
    expect(await store.isTombstoned(bearerKey)).toBe(true);
  });

  it('revokes a token it handed out to the same client, and only that', async () => {
    const { client, service } = setup();
    const alpha = await service.authenticate(basic('alpha', 'alpha-secret'));
    const beta = await service.authenticate(basic('beta', 'beta-secret'));
    const alphaClient = { clientId: 'alpha', clientSecret: 'alpha-secret' };

    await expect(service.revoke(beta.accessToken, alphaClient)).resolves.toBe('not_owned');
    await expect(service.authenticate(`Bearer ${beta.accessToken}`)).resolves.toMatchObject(beta);
    await expect(service.revoke('never-issued', alphaClient)).resolves.toBe('unknown');
    await expect(
      service.revoke(alpha.accessToken, { clientId: 'alpha', clientSecret: 'wrong' }),
    ).rejects.toBeInstanceOf(V3UnauthorizedException);
    await expect(service.authenticate(`Bearer ${alpha.accessToken}`)).resolves.toMatchObject(alpha);
    expect(client.grants).toHaveLength(3);

    await expect(service.revoke(alpha.accessToken, alphaClient)).resolves.toBe('evicted');
    await expect(service.authenticate(`Bearer ${alpha.accessToken}`)).rejects.toMatchObject({ status: 401 });
    const next = await service.authenticate(basic('alpha', 'alpha-secret'));
    expect(next.accessToken).not.toBe(alpha.accessToken);
  });

  it('reports an outage as 503 and keeps serving cached tokens', async () => {
    const { client, service } = setup();
    const cached = await service.authenticate(basic('alpha', 'alpha-secret'));
    client.outage = true;
    await expect(service.authenticate(basic('alpha', 'alpha-secret'))).resolves.toBe(cached);
    await expect(service.authenticate(basic('beta', 'beta-secret'))).rejects.toMatchObject({ status: 503 });
  });

  it('reads the shared store when the in-process layer is off', async () => {
    const { client, service, events } = setup({ memoryCache: false });
    await service.authenticate(basic('alpha', 'alpha-secret'));
    await service.authenticate(basic('alpha', 'alpha-secret'));
    expect(client.grants).toHaveLength(1);
    expect(service.peek(basic('alpha', 'alpha-secret'))).toBeUndefined();
    expect(events).toContain('hit:store');
  });

  /** Records the store's reads: `get`, and each tombstone check as asked with a `get` in flight or after it. */
  function recordReads(store: MemoryTokenStore): string[] {
    const log: string[] = [];
    let inFlight = 0;
    const get = store.get.bind(store);
    store.get = async (key: string) => {
      log.push('get');
      inFlight++;
      try {
        return await get(key);
      } finally {
        inFlight--;
      }
    };
    const isTombstoned = store.isTombstoned.bind(store);
    store.isTombstoned = (key: string) => {
      log.push(inFlight > 0 ? 'tombstone with the get' : 'tombstone after the get');
      return isTombstoned(key);
    };
    return log;
  }

  it('with the in-process layer off, asks for a stored token and its tombstone at once from the second hit on', async () => {
    const { service, store } = setup({ memoryCache: false });
    const log = recordReads(store);
    const header = basic('alpha', 'alpha-secret');
    const first = await service.authenticate(header);
    log.length = 0;
    await service.authenticate(header);
    // The first store hit learns which token the entry holds; it reads that token's tombstone once the get answered.
    expect(log).toEqual(['get', 'tombstone after the get']);
    log.length = 0;
    expect((await service.authenticate(header)).accessToken).toBe(first.accessToken);
    expect(log).toEqual(['get', 'tombstone with the get']);
    log.length = 0;
    expect((await service.authenticate(`Bearer ${first.accessToken}`)).accessToken).toBe(first.accessToken);
    expect(log).toEqual(['get', 'tombstone with the get']);
  });

  /** A second service on `store` that evicts `token` as if a downstream refused it; `service` did not hear of it. */
  async function evictElsewhere(
    { client, service, store }: ReturnType<typeof setup>,
    token: string,
    header: string,
  ): Promise<void> {
    const resolved = resolveV3TokenAuthOptions({ tokenUrl: 'http://issuer.test/token', memoryCache: false });
    const other = new V3TokenService(
      resolved,
      store,
      client as unknown as V3TokenClient,
      new TokenFingerprinter('unit-test-hmac-key-0123456789abcdef', resolved.tokenUrl),
    );
    await other.refused(token, header);
    // Not the tombstone this instance learnt from the store's announcement: the one it reads with the entry.
    (service as unknown as { tombstones: { knows(key: string): boolean } }).tombstones.knows = () => false;
  }

  it('with the in-process layer off, never serves a token another instance evicted, read at once with its tombstone', async () => {
    const setUp = setup({ memoryCache: false });
    const { client, service, store } = setUp;
    const header = basic('alpha', 'alpha-secret');
    let lastRead: [string, CachedToken] | undefined;
    const get = store.get.bind(store);
    store.get = async (key: string) => {
      const entry = await get(key);
      if (entry) lastRead = [key, entry];
      return entry;
    };
    const first = await service.authenticate(header);
    await service.authenticate(header);
    await evictElsewhere(setUp, first.accessToken, header);
    // The entry written back (as by a write in flight during the eviction): only its tombstone tells.
    await store.set(lastRead![0], lastRead![1], 60_000);
    const log = recordReads(store);
    const next = await service.authenticate(header);
    expect(next.accessToken).not.toBe(first.accessToken);
    expect(log.slice(0, 2)).toEqual(['get', 'tombstone with the get']);
    expect(client.grants).toHaveLength(2);
  });

  it('with the in-process layer off, asks for a Bearer token and its tombstone at once', async () => {
    const { service, store } = setup({ memoryCache: false });
    const first = await service.authenticate(basic('alpha', 'alpha-secret'));
    const log = recordReads(store);
    expect((await service.authenticate(`Bearer ${first.accessToken}`)).accessToken).toBe(first.accessToken);
    expect(log).toEqual(['get', 'tombstone with the get']);
  });

  it('with the in-process layer off, never serves a Bearer token another instance evicted, read with its tombstone', async () => {
    const setUp = setup({ memoryCache: false });
    const { service, store } = setUp;
    const header = basic('alpha', 'alpha-secret');
    const first = await service.authenticate(header);
    await evictElsewhere(setUp, first.accessToken, header);
    const log = recordReads(store);
    await expect(service.authenticate(`Bearer ${first.accessToken}`)).rejects.toMatchObject({ status: 401 });
    expect(log).toEqual(['get', 'tombstone with the get']);
  });

  it('with the in-process layer off, spares a known Basic header the HMACs but still reads the store each time', async () => {
    const { client, service, store, events } = setup({ memoryCache: false });
    const fingerprinter = (service as unknown as { fingerprinter: { mac(...parts: string[]): string } })
      .fingerprinter;
    const mac = fingerprinter.mac.bind(fingerprinter);
    let macs = 0;
    fingerprinter.mac = (...parts: string[]) => {
      macs++;
      return mac(...parts);
    };
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (key: string) => {
      reads++;
      return get(key);
    };
    const header = basic('alpha', 'alpha-secret');
    const first = await service.authenticate(header);
    const [macsAfterGrant, readsAfterGrant] = [macs, reads];
    const again = await service.authenticate(header);
    await service.authenticate(header);
    expect(again.accessToken).toBe(first.accessToken);
    expect(macs).toBe(macsAfterGrant);
    expect(reads - readsAfterGrant).toBe(2);
    expect(events.filter((event) => event === 'hit:store')).toHaveLength(2);
    expect(client.grants).toHaveLength(1);

    await expect(service.authenticate(basic('alpha', 'wrong'))).rejects.toBeInstanceOf(
      V3InvalidCredentialsException,
    );
    await service.invalidate(first);
    const regranted = await service.authenticate(header);
    expect(regranted.accessToken).not.toBe(first.accessToken);
    expect(client.grants.map((grant) => grant.clientSecret)).toEqual([
      'alpha-secret',
      'wrong',
      'alpha-secret',
    ]);
  });
});
