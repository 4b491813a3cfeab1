import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { V3IssuerUnavailableException, V3TokenAuthModule, V3TokenService } from 'nestjs-v3-token-auth';
import { startRedisServer, type PrivateRedis } from './support/redis-server.js';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import { startGuardedApp, type GuardedApp } from './support/v3-token-auth-app.js';

const USERS = { alice: 'alice-pw', bob: 'bob-pw' };
const GATEWAY_CLIENT = { clientId: 'gw', clientSecret: 'gw-secret' };
const as = (user: keyof typeof USERS) => ({ clientId: user, clientSecret: USERS[user] });

/** A revocation endpoint (RFC 7009) that records the tokens passed on to it, and by which client. */
interface RevocationRecorder {
  url: string;
  revoked: { token: string | null; clientId: string | null }[];
  close(): Promise<void>;
}

async function startRevocationRecorder(): Promise<RevocationRecorder> {
  const revoked: RevocationRecorder['revoked'] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      revoked.push({ token: form.get('token'), clientId: form.get('client_id') });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/revoke`,
    revoked,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * With the password grant, every user's tokens belong to the module's own client, and the issuer revokes whatever
 * that client asks it to: the module must tell whose a token is. A user revokes their own tokens, refreshed ones
 * included, and never another user's. The sandbox is the token endpoint; two instances share one Redis.
 */
describe('revocation with the password grant', () => {
  let issuer: TokenServer;
  let recorder: RevocationRecorder;
  let redis: PrivateRedis;
  const apps: GuardedApp[] = [];

  const instance = async (redisUrl = redis.url): Promise<GuardedApp> => {
    const app = await startGuardedApp(
      [
        V3TokenAuthModule.forRoot({
          tokenUrl: issuer.tokenUrl,
          grantType: 'password',
          ...GATEWAY_CLIENT,
          revocationUrl: recorder.url,
          redis: { url: redisUrl },
          hmacKey: 'password-revocation-spec-hmac-key-0123456789',
          retry: { attempts: 1 },
        }),
      ],
      'fastify',
    );
    apps.push(app);
    return app;
  };
  const tokensOf = (app: GuardedApp) => app.app.get(V3TokenService);
  const logIn = (app: GuardedApp, user: keyof typeof USERS) =>
    tokensOf(app).issueToken({ grant_type: 'password', username: user, password: USERS[user] });

  beforeAll(async () => {
    [issuer, recorder, redis] = await Promise.all([
      startTokenServer({ clients: { [GATEWAY_CLIENT.clientId]: GATEWAY_CLIENT.clientSecret }, users: USERS }),
      startRevocationRecorder(),
      startRedisServer(),
    ]);
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    recorder.revoked.length = 0;
  });

  afterAll(async () => {
    await Promise.all([issuer.close(), recorder.close(), redis.stop()]);
  });

  it("never passes on another user's refresh token, which the module's own client would revoke", async () => {
    const [first, second] = await Promise.all([instance(), instance()]);
    const bob = await logIn(first, 'bob');
    expect(bob.refresh_token).toBeDefined();

    expect(await tokensOf(second).revoke(bob.refresh_token!, as('alice'))).toBe('not_owned');
    expect(await tokensOf(first).revoke(bob.refresh_token!, as('alice'))).toBe('not_owned');
    expect(await tokensOf(second).revoke('a-token-nobody-handed-out', as('alice'))).toBe('not_owned');
    expect(recorder.revoked).toEqual([]);

    expect(await tokensOf(second).revoke(bob.refresh_token!, as('bob'))).toBe('unknown');
    expect(recorder.revoked).toEqual([{ token: bob.refresh_token, clientId: GATEWAY_CLIENT.clientId }]);
  });

  it('keeps the user of a refreshed token: its owner revokes it, and no other user can', async () => {
    const [first, second] = await Promise.all([instance(), instance()]);
    const bob = await logIn(first, 'bob');
    const refreshed = await tokensOf(second).issueToken({
      grant_type: 'refresh_token',
      refresh_token: bob.refresh_token!,
    });
    expect(refreshed.access_token).not.toBe(bob.access_token);
    const me = await first.me(`Bearer ${refreshed.access_token}`);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ clientId: GATEWAY_CLIENT.clientId, username: 'bob' });

    expect(await tokensOf(first).revoke(refreshed.access_token, as('alice'))).toBe('not_owned');
    expect((await second.me(`Bearer ${refreshed.access_token}`)).status).toBe(200);
    expect(await tokensOf(first).revoke(refreshed.access_token, as('bob'))).toBe('evicted');
    expect((await second.me(`Bearer ${refreshed.access_token}`)).status).toBe(401);

    expect(await tokensOf(second).revoke(refreshed.refresh_token!, as('alice'))).toBe('not_owned');
    expect(await tokensOf(second).revoke(refreshed.refresh_token!, as('bob'))).toBe('unknown');
    expect(recorder.revoked.map((entry) => entry.token)).toEqual([
      refreshed.access_token,
      refreshed.refresh_token,
    ]);
  });

  it('answers 503 when Redis cannot be read to tell whose a refresh token is, and passes nothing on', async () => {
    const own = await startRedisServer();
    try {
      const app = await instance(own.url);
      const bob = await logIn(app, 'bob');
      await own.stop();
      const revoking = tokensOf(app).revoke(bob.refresh_token!, as('bob'));
      await expect(revoking).rejects.toBeInstanceOf(V3IssuerUnavailableException);
      await expect(revoking).rejects.toMatchObject({ status: 503 });
      expect(recorder.revoked).toEqual([]);
    } finally {
      await own.stop();
    }
  });
});
