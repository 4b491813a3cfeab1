import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, UseGuards } from '@nestjs/common';
import {
  CurrentClient,
  RequireScopes,
  V3TokenAuthGuard,
  V3TokenAuthModule,
  type V3Principal,
} from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import {
  basic,
  httpGet,
  startGuardedApp,
  type GuardedApp,
  type HttpPlatform,
} from './support/v3-token-auth-app.js';

/** The sandbox grants every client `profile email`. */
@Controller()
@UseGuards(V3TokenAuthGuard)
@RequireScopes('profile')
class ScopedController {
  @Get('email')
  @RequireScopes('email')
  email(@CurrentClient() client: V3Principal): { clientId: string } {
    return { clientId: client.clientId };
  }

  @Get('orders')
  @RequireScopes('orders:read', 'email')
  orders(): { orders: [] } {
    return { orders: [] };
  }

  @Get('profile')
  profile(): { profile: true } {
    return { profile: true };
  }
}

describe.each<HttpPlatform>(['express', 'fastify'])('@RequireScopes with a real issuer (%s)', (platform) => {
  let server: TokenServer;
  let app: GuardedApp;
  const credentials = basic('svc', 's3cret');

  beforeAll(async () => {
    server = await startTokenServer({ clients: { svc: 's3cret' } });
    app = await startGuardedApp(
      [V3TokenAuthModule.forRoot({ tokenUrl: server.tokenUrl, retry: { attempts: 1 } })],
      platform,
      [ScopedController],
    );
  });

  afterAll(async () => {
    await app?.close();
    await server?.close();
  });

  it('answers 200 when the granted token holds the scope (handler list) and the class scope', async () => {
    const email = await httpGet(`${app.url}/email`, credentials);
    expect(email.status).toBe(200);
    expect(email.body).toEqual({ clientId: 'svc' });
    const profile = await httpGet(`${app.url}/profile`, credentials);
    expect(profile.status).toBe(200);
  });

  it('answers 403 insufficient_scope with the RFC 6750 challenge from the cached token, without a new grant', async () => {
    const grantsBefore = server.issuer.grantCount('svc');
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await httpGet(`${app.url}/orders`, credentials);
      expect(answer.status).toBe(403);
      expect(answer.headers.get('www-authenticate')).toBe(
        'Bearer error="insufficient_scope", scope="orders:read email"',
      );
      expect(answer.body).toMatchObject({ error: 'insufficient_scope', scope: 'orders:read email' });
      expect(String(answer.body?.['error_description'])).toContain('orders:read');
      expect(answer.text).not.toContain('s3cret');
    }
    expect(server.issuer.grantCount('svc')).toBe(grantsBefore);
  });

  it('still answers 401 for bad credentials before any scope check', async () => {
    const answer = await httpGet(`${app.url}/orders`, basic('svc', 'wrong'));
    expect(answer.status).toBe(401);
  });
});
