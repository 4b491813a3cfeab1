import { describe, it, expect, beforeEach } from '@jest/globals';
import { decodeJwt, SignJWT } from 'jose';
import {
  SandboxIssuerService,
  SandboxTokenRejection,
  type SandboxTokenReply,
} from './sandbox-issuer.service.js';
import type { SandboxOptions } from './sandbox.options.js';

const ISSUER = 'http://sandbox.test/realms/v3';
const SECRET = 'a-test-signing-key-that-is-32-chars!';

function basic(id: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

function json(reply: SandboxTokenReply): {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
} {
  if (reply.kind !== 'json') throw new Error(`expected a JSON reply, got ${reply.kind}`);
  return { status: reply.status, headers: reply.headers, body: reply.body as Record<string, unknown> };
}

describe('SandboxIssuerService', () => {
  let now: number;
  let issuer: SandboxIssuerService;
  const options = (): SandboxOptions => ({
    clients: { 'demo-client': 'demo-secret', 'other-client': 'other secret:with+symbols' },
    users: { jdoe: 'password' },
    tokenLifetimeSeconds: 300,
    refreshLifetimeSeconds: 1800,
    jwtSecret: SECRET,
    clock: () => now,
  });
  const request = (body: Record<string, unknown>, authorization?: string) =>
    issuer.handleTokenRequest({ body, authorization, issuer: ISSUER });

  beforeEach(() => {
    now = Date.UTC(2030, 0, 1);
    issuer = new SandboxIssuerService(options());
  });

  describe('client_credentials', () => {
    it('issues a signed access token with Keycloak-shaped fields and no refresh token', async () => {
      const reply = json(
        await request({
          grant_type: 'client_credentials',
          client_id: 'demo-client',
          client_secret: 'demo-secret',
        }),
      );
      expect(reply.status).toBe(200);
      expect(reply.headers).toMatchObject({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      expect(reply.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 300,
        refresh_expires_in: 0,
        'not-before-policy': 0,
        scope: 'profile email',
      });
      expect(reply.body.refresh_token).toBeUndefined();
      expect(reply.body.session_state).toMatch(/^[0-9a-f-]{36}$/);

      const claims = decodeJwt(reply.body.access_token as string);
      const iat = Math.floor(now / 1000);
      expect(claims).toMatchObject({ azp: 'demo-client', typ: 'Bearer', iss: ISSUER, iat, exp: iat + 300 });
      expect(claims.sub).toBe('service-account-demo-client');
      expect(claims.preferred_username).toBeUndefined();
      expect(typeof claims.jti).toBe('string');
      await expect(issuer.verifyAccessToken(reply.body.access_token as string)).resolves.toMatchObject({
        clientId: 'demo-client',
        expiresAt: (iat + 300) * 1000,
      });
    });

    it('accepts client_secret_basic with form-url-encoded id and secret (RFC 6749 §2.3.1)', async () => {
      const reply = json(
        await request(
          { grant_type: 'client_credentials' },
          basic('other-client', 'other secret:with+symbols'),
        ),
      );
      expect(reply.status).toBe(200);
      expect(decodeJwt(reply.body.access_token as string).azp).toBe('other-client');
      expect(issuer.grants[0]).toMatchObject({
        clientId: 'other-client',
        clientAuth: 'basic',
        outcome: 'issued',
      });
    });

    it('refuses an unknown client and a wrong secret with 401 as Keycloak does, never echoing the secret', async () => {
      const unknown = json(
        await request({
          grant_type: 'client_credentials',
          client_id: 'nobody',
          client_secret: 'demo-secret',
        }),
      );
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual({
        error: 'invalid_client',
        error_description: 'Invalid client or Invalid client credentials',
      });

      const wrong = json(
        await request({ grant_type: 'client_credentials' }, basic('demo-client', 'not-the-secret')),
      );
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({
        error: 'unauthorized_client',
        error_description: 'Invalid client or Invalid client credentials',
      });
      expect(JSON.stringify(wrong)).not.toContain('not-the-secret');

      const missingSecret = json(
        await request({ grant_type: 'client_credentials', client_id: 'demo-client' }),
      );
      expect(missingSecret.status).toBe(401);
      expect(missingSecret.body.error).toBe('unauthorized_client');
    });

    it('answers 400 for a missing client id, a malformed Basic header and a mismatched body client_id', async () => {
      expect(json(await request({ grant_type: 'client_credentials' })).body).toEqual({
        error: 'invalid_client',
        error_description: 'Missing client_id parameter',
      });
      const malformed = json(await request({ grant_type: 'client_credentials' }, 'Basic %%%not-base64'));
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toBe('invalid_request');
      const mismatch = json(
        await request(
          { grant_type: 'client_credentials', client_id: 'other-client' },
          basic('demo-client', 'demo-secret'),
        ),
      );
      expect(mismatch.status).toBe(400);
    });
  });

  describe('grant_type', () => {
    it('answers 400 invalid_request when missing and unsupported_grant_type when unknown', async () => {
      const missing = json(await request({ client_id: 'demo-client', client_secret: 'demo-secret' }));
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({
        error: 'invalid_request',
        error_description: 'Missing form parameter: grant_type',
      });

      const unknown = json(
        await request({
          grant_type: 'authorization_code',
          client_id: 'demo-client',
          client_secret: 'demo-secret',
        }),
      );
      expect(unknown.status).toBe(400);
      expect(unknown.body.error).toBe('unsupported_grant_type');
    });

    it('treats a non-object body as empty and a repeated parameter as a 400, never throwing', async () => {
      const text = json(await issuer.handleTokenRequest({ body: 'grant_type=password', issuer: ISSUER }));
      expect(text.status).toBe(400);
      const repeated = json(
        await request({
          grant_type: ['client_credentials', 'password'],
          client_id: 'demo-client',
          client_secret: 'demo-secret',
        }),
      );
      expect(repeated.status).toBe(400);
      expect(repeated.body.error_description).toBe('Duplicate parameter: grant_type');
    });
  });

  describe('password', () => {
    const passwordGrant = (username: string, password: string) =>
      request({
        grant_type: 'password',
        client_id: 'demo-client',
        client_secret: 'demo-secret',
        username,
        password,
      });

    it('issues an access token naming the user and a refresh token', async () => {
      const reply = json(await passwordGrant('jdoe', 'password'));
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ expires_in: 300, refresh_expires_in: 1800, token_type: 'Bearer' });
      const claims = decodeJwt(reply.body.access_token as string);
      expect(claims).toMatchObject({ sub: 'jdoe', preferred_username: 'jdoe', azp: 'demo-client' });
      const refresh = decodeJwt(reply.body.refresh_token as string);
      expect(refresh).toMatchObject({
        typ: 'Refresh',
        azp: 'demo-client',
        exp: Math.floor(now / 1000) + 1800,
      });
      expect(refresh.sid).toBe(reply.body.session_state);
    });

    it('refuses a wrong password or unknown user with 401 invalid_grant', async () => {
      for (const [username, password] of [
        ['jdoe', 'wrong'],
        ['nobody', 'password'],
        ['constructor', 'x'],
      ] as const) {
        const reply = json(await passwordGrant(username, password));
        expect(reply.status).toBe(401);
        expect(reply.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid user credentials' });
      }
    });

    it('requires the client to authenticate too', async () => {
      const reply = json(
        await request({
          grant_type: 'password',
          client_id: 'demo-client',
          client_secret: 'wrong',
          username: 'jdoe',
          password: 'password',
        }),
      );
      expect(reply.status).toBe(401);
      expect(reply.body.error).toBe('unauthorized_client');
    });
  });

  describe('refresh_token', () => {
    async function refreshTokenFor(clientId = 'demo-client', secret = 'demo-secret'): Promise<string> {
      const reply = json(
        await request({
          grant_type: 'password',
          client_id: clientId,
          client_secret: secret,
          username: 'jdoe',
          password: 'password',
        }),
      );
      return reply.body.refresh_token as string;
    }
    const refresh = (token: string, clientId = 'demo-client', secret = 'demo-secret') =>
      request({
        grant_type: 'refresh_token',
        client_id: clientId,
        client_secret: secret,
        refresh_token: token,
      });

    it('issues new tokens for the same user and session', async () => {
      const token = await refreshTokenFor();
      now += 60_000;
      const reply = json(await refresh(token));
      expect(reply.status).toBe(200);
      const claims = decodeJwt(reply.body.access_token as string);
      expect(claims).toMatchObject({ preferred_username: 'jdoe', iat: Math.floor(now / 1000) });
      expect(reply.body.session_state).toBe(decodeJwt(token).sid);
      expect(reply.body.refresh_token).not.toBe(token);
    });

    it('refuses an expired refresh token, one of another client, an access token and garbage with 400', async () => {
      const token = await refreshTokenFor();
      const accessToken = json(
        await request({
          grant_type: 'client_credentials',
          client_id: 'demo-client',
          client_secret: 'demo-secret',
        }),
      ).body.access_token as string;
      const forged = await new SignJWT({ typ: 'Refresh', azp: 'demo-client' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('jdoe')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('some-other-key-of-at-least-32-chars'));

      for (const reply of [
        await refresh(token, 'other-client', 'other secret:with+symbols'),
        await refresh(accessToken),
        await refresh(forged),
        await refresh('not-a-jwt'),
      ]) {
        expect(json(reply).status).toBe(400);
        expect(json(reply).body).toEqual({
          error: 'invalid_grant',
          error_description: 'Invalid refresh token',
        });
      }
      now += 1801_000;
      expect(json(await refresh(token)).body.error_description).toBe('Invalid refresh token');
    });

    it('answers 400 invalid_request when the refresh token is missing', async () => {
      const reply = json(
        await request({
          grant_type: 'refresh_token',
          client_id: 'demo-client',
          client_secret: 'demo-secret',
        }),
      );
      expect(reply.status).toBe(400);
      expect(reply.body.error).toBe('invalid_request');
    });
  });

  describe('verifyAccessToken', () => {
    it('rejects an expired token, a refresh token and a token signed with another key', async () => {
      const issued = json(
        await request({
          grant_type: 'password',
          client_id: 'demo-client',
          client_secret: 'demo-secret',
          username: 'jdoe',
          password: 'password',
        }),
      ).body;
      await expect(issuer.verifyAccessToken(issued.refresh_token as string)).rejects.toBeInstanceOf(
        SandboxTokenRejection,
      );
      const stranger = new SandboxIssuerService({ ...options(), jwtSecret: undefined });
      await expect(stranger.verifyAccessToken(issued.access_token as string)).rejects.toThrow(
        'The access token is not valid',
      );
      now += 300_000;
      await expect(issuer.verifyAccessToken(issued.access_token as string)).rejects.toThrow(
        'The access token expired',
      );
    });
  });

  describe('records, lifetimes and faults', () => {
    const ccBody = {
      grant_type: 'client_credentials',
      client_id: 'demo-client',
      client_secret: 'demo-secret',
    };

    it('records every request without secrets and counts successes apart', async () => {
      await request(ccBody);
      await request({ ...ccBody, client_secret: 'wrong' });
      await request({ ...ccBody, client_id: 'other-client', client_secret: 'other secret:with+symbols' });
      expect(issuer.grantCount()).toBe(3);
      expect(issuer.grantCount('demo-client')).toBe(2);
      expect(issuer.successfulGrants('demo-client')).toBe(1);
      expect(issuer.successfulGrants()).toBe(2);
      expect(issuer.grants[1]).toEqual({
        grantType: 'client_credentials',
        clientId: 'demo-client',
        clientAuth: 'post',
        at: now,
        outcome: 'rejected',
        status: 401,
      });
      expect(JSON.stringify(issuer.grants)).not.toMatch(/secret/i);
      issuer.reset();
      expect(issuer.grantCount()).toBe(0);
    });

    it('applies lifetime overrides until reset', async () => {
      issuer.lifetimes = { tokenLifetimeSeconds: 2 };
      expect(json(await request(ccBody)).body.expires_in).toBe(2);
      issuer.reset();
      expect(json(await request(ccBody)).body.expires_in).toBe(300);
    });

    it('answers faults, counting them as grants but not as successes', async () => {
      issuer.setFaults({ mode: 'unavailable', retryAfterSeconds: 5 });
      const unavailable = json(await request(ccBody));
      expect(unavailable.status).toBe(503);
      expect(unavailable.headers['Retry-After']).toBe('5');

      issuer.setFaults({ mode: 'rate_limited', retryAfterSeconds: 7 });
      const limited = json(await request(ccBody));
      expect(limited.status).toBe(429);
      expect(limited.headers['Retry-After']).toBe('7');

      issuer.setFaults({ mode: 'malformed' });
      const malformed = json(await request(ccBody));
      expect(malformed.status).toBe(200);
      expect(malformed.body.access_token).toBeUndefined();

      issuer.setFaults({ mode: 'html', status: 502 });
      const html = await request(ccBody);
      expect(html).toMatchObject({ kind: 'text', status: 502 });

      issuer.setFaults({ mode: 'drop' });
      expect(await request(ccBody)).toEqual({ kind: 'drop' });

      expect(issuer.grantCount('demo-client')).toBe(5);
      expect(issuer.successfulGrants()).toBe(0);
      expect(issuer.grants.map((record) => record.outcome)).toEqual(Array(5).fill('faulted'));

      issuer.reset();
      expect(issuer.faults.mode).toBe('none');
      expect(json(await request(ccBody)).status).toBe(200);
    });

    it('delays a slow answer by delayMs, then answers normally', async () => {
      issuer.setFaults({ mode: 'slow', delayMs: 150 });
      const started = performance.now();
      const reply = json(await request(ccBody));
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
      expect(reply.status).toBe(200);
      expect(issuer.successfulGrants()).toBe(1);
    });
  });
});
