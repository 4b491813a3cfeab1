import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, UseGuards, type ExecutionContext } from '@nestjs/common';
import { CurrentClient, V3TokenAuthGuard, V3TokenAuthModule, type V3Principal } from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import {
  basic,
  httpGet,
  startGuardedApp,
  type GuardedApp,
  type HttpPlatform,
} from './support/v3-token-auth-app.js';

interface AuditRecord {
  path: string;
  outcome: 'admitted' | 'refused';
  clientId?: string;
}

const audit: AuditRecord[] = [];

/** An app's own guard: audits every authentication in `handleRequest`, then decides as the library does. */
@Injectable()
class AuditingGuard extends V3TokenAuthGuard {
  override handleRequest<TUser = V3Principal>(
    error: unknown,
    user: TUser | false,
    info: unknown,
    context: ExecutionContext,
  ): TUser {
    const request = this.getRequest<{ url?: string; originalUrl?: string }>(context);
    const principal = user === false ? undefined : (user as V3Principal);
    audit.push({
      path: request.originalUrl ?? request.url ?? '?',
      outcome: error || !user ? 'refused' : 'admitted',
      clientId: principal?.clientId,
    });
    return super.handleRequest(error, user, info, context);
  }
}

@Controller()
@UseGuards(AuditingGuard)
class AuditedController {
  @Get('audited')
  audited(@CurrentClient('clientId') clientId: string): { clientId: string } {
    return { clientId };
  }
}

/**
 * Issue 10, item 7: a subclass of `V3TokenAuthGuard` that audits in `handleRequest` sees every request, the ones the
 * in-process cache accepts synchronously included, in a real Nest app against the sandbox issuer.
 */
describe.each<HttpPlatform>(['express', 'fastify'])(
  'a V3TokenAuthGuard subclass in a Nest app (%s)',
  (platform) => {
    let server: TokenServer;
    let app: GuardedApp;

    beforeAll(async () => {
      server = await startTokenServer({ clients: { svc: 's3cret' } });
      app = await startGuardedApp(
        [V3TokenAuthModule.forRoot({ tokenUrl: server.tokenUrl, retry: { attempts: 1 } })],
        platform,
        [AuditedController],
      );
    });

    beforeEach(() => {
      audit.length = 0;
    });

    afterAll(async () => {
      await app?.close();
      await server?.close();
    });

    it('audits the cold request, every warm one and every refusal', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await httpGet(`${app.url}/audited`, basic('svc', 's3cret'))).status);
      statuses.push((await httpGet(`${app.url}/audited`, basic('svc', 'wrong'))).status);
      statuses.push((await httpGet(`${app.url}/audited`)).status);
      statuses.push((await httpGet(`${app.url}/audited`, basic('svc', 's3cret'))).status);

      expect(statuses).toEqual([200, 200, 200, 200, 200, 401, 401, 200]);
      expect(server.issuer.successfulGrants('svc')).toBe(1);
      expect(audit.map((record) => record.outcome)).toEqual([
        'admitted',
        'admitted',
        'admitted',
        'admitted',
        'admitted',
        'refused',
        'refused',
        'admitted',
      ]);
      expect(audit.every((record) => record.path === '/audited')).toBe(true);
      expect(audit.filter((record) => record.outcome === 'admitted').every((r) => r.clientId === 'svc')).toBe(
        true,
      );
    });
  },
);
