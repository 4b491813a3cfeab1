import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { V3TokenService, type V3TokenAuthModuleOptions } from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import { basic, eventually, sleep, moduleApps } from './support/v3-token-auth-app.js';

const GATEWAY = { id: 'gateway-client', secret: 'gateway-secret' };
const CLIENTS: Record<string, string> = {
  [GATEWAY.id]: GATEWAY.secret,
  'post-client': 'post-secret',
  'basic-client': 'basic secret/with:specials',
  'bearer-client': 'bearer-secret',
};
const USERS: Record<string, string> = { jdoe: 'jdoe-password', asmith: 'asmith-password' };

describe('V3TokenAuthModule tokens: refresh, Bearer, client authentication (real token endpoint)', () => {
  let issuer: TokenServer;
  const { start, closeAll } = moduleApps(() => issuer.keycloakTokenUrl);
  const passwordGrant: Partial<V3TokenAuthModuleOptions> = {
    grantType: 'password',
    clientId: GATEWAY.id,
    clientSecret: GATEWAY.secret,
  };

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: CLIENTS, users: USERS });
  });

  afterEach(async () => {
    await closeAll();
    issuer.issuer.reset();
  });

  afterAll(() => issuer.close());

  it('renews in the background with grant_type=refresh_token after the refresh-ahead point, serving the old token meanwhile', async () => {
    issuer.issuer.lifetimes = { tokenLifetimeSeconds: 2 };
    const app = await start({ ...passwordGrant, expirySkewSeconds: 0, refreshAheadRatio: 0.5 });
    const header = basic('jdoe', USERS.jdoe);

    const first = await app.me(header);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ clientId: GATEWAY.id, username: 'jdoe' });
    expect(issuer.issuer.grants.map((grant) => grant.grantType)).toEqual(['password']);

    await sleep(1400);
    const during = await app.me(header);
    expect(during.status).toBe(200);
    expect(during.body?.accessToken).toBe(first.body?.accessToken);

    expect(await eventually(() => issuer.issuer.successfulGrants() === 2)).toBe(true);
    const refresh = issuer.issuer.grants[1];
    expect(refresh).toMatchObject({ grantType: 'refresh_token', clientId: GATEWAY.id, outcome: 'issued' });

    const after = await app.me(header);
    expect(after.status).toBe(200);
    expect(after.body?.accessToken).not.toBe(first.body?.accessToken);
    expect(after.body?.expiresAt).toBeGreaterThan(first.body?.expiresAt as number);
    expect(issuer.issuer.grants.map((grant) => grant.grantType)).toEqual(['password', 'refresh_token']);
  });

  it('refuses a wrong password for a cached user, and one user password does not open another user', async () => {
    const app = await start(passwordGrant);
    const jdoe = await app.me(basic('jdoe', USERS.jdoe));
    expect(jdoe.status).toBe(200);

    const wrong = await app.me(basic('jdoe', 'not-jdoe-password'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/Basic realm=/);
    expect(wrong.text).not.toContain('not-jdoe-password');
    expect(wrong.text).not.toContain(GATEWAY.secret);

    const crossed = await app.me(basic('asmith', USERS.jdoe));
    expect(crossed.status).toBe(401);

    const again = await app.me(basic('jdoe', USERS.jdoe));
    expect(again.body?.accessToken).toBe(jdoe.body?.accessToken);
    expect(issuer.issuer.grants.map((grant) => [grant.grantType, grant.outcome])).toEqual([
      ['password', 'issued'],
      ['password', 'rejected'],
      ['password', 'rejected'],
    ]);
  });

  it('issueToken performs the refresh_token grant and the new access token opens the guarded route', async () => {
    const app = await start(passwordGrant);
    const tokens = app.app.get(V3TokenService);

    const issued = await tokens.issueToken({
      grant_type: 'password',
      username: 'asmith',
      password: USERS.asmith,
    });
    expect(issued.token_type).toBe('Bearer');
    expect(typeof issued.refresh_token).toBe('string');

    const refreshed = await tokens.issueToken({
      grant_type: 'refresh_token',
      refresh_token: issued.refresh_token,
    });
    expect(refreshed.access_token).not.toBe(issued.access_token);
    expect(refreshed.expires_in).toBeGreaterThan(0);
    expect(refreshed.expires_in).toBeLessThanOrEqual(300);
    expect(issuer.issuer.grants.map((grant) => [grant.grantType, grant.clientId, grant.outcome])).toEqual([
      ['password', GATEWAY.id, 'issued'],
      ['refresh_token', GATEWAY.id, 'issued'],
    ]);

    const opened = await app.me(`Bearer ${refreshed.access_token}`);
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ clientId: GATEWAY.id, accessToken: refreshed.access_token });

    await expect(
      tokens.issueToken({ grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' }),
    ).rejects.toMatchObject({ status: 400, oauthError: 'invalid_grant' });
  });

  it('opens the guarded route with the access token issueToken handed out, and refuses an unknown bearer', async () => {
    const app = await start();
    const tokens = app.app.get(V3TokenService);
    const issued = await tokens.issueToken({
      grant_type: 'client_credentials',
      client_id: 'bearer-client',
      client_secret: CLIENTS['bearer-client'],
    });
    expect(issued.expires_in).toBeGreaterThan(290);
    expect(issued.expires_in).toBeLessThanOrEqual(300);

    const opened = await app.me(`Bearer ${issued.access_token}`);
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ clientId: 'bearer-client', accessToken: issued.access_token });

    const viaBasic = await app.me(basic('bearer-client', CLIENTS['bearer-client']));
    expect(viaBasic.body?.accessToken).toBe(issued.access_token);
    expect(issuer.issuer.grantCount('bearer-client')).toBe(1);

    const unknown = await app.me('Bearer eyJub3Qtb3Vycy.aGFuZGVkLW91dA.c2lnbmF0dXJl');
    expect(unknown.status).toBe(401);
    // RFC 6750 §3: a token that was sent and is not valid is named in the Bearer challenge.
    expect(unknown.headers.get('www-authenticate')).toMatch(/Bearer realm="[^"]+", error="invalid_token"/);
    expect(unknown.body).toMatchObject({ statusCode: 401 });

    const stranger = await start();
    const elsewhere = await stranger.me(`Bearer ${issued.access_token}`);
    expect(elsewhere.status).toBe(401);
  });

  it.each([
    ['client_secret_post', 'post-client', 'post'],
    ['client_secret_basic', 'basic-client', 'basic'],
  ] as const)('sends client credentials with %s', async (clientAuthMethod, clientId, recorded) => {
    const app = await start({ clientAuthMethod });
    const answer = await app.me(basic(clientId, CLIENTS[clientId]));

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ clientId });
    expect(issuer.issuer.grants).toEqual([
      expect.objectContaining({
        grantType: 'client_credentials',
        clientId,
        clientAuth: recorded,
        outcome: 'issued',
      }),
    ]);
  });
});
