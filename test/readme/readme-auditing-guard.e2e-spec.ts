import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, UseGuards, type Type } from '@nestjs/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RequireScopes, V3TokenAuthModule } from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic, httpGet, startGuardedApp, type GuardedApp } from '../support/v3-token-auth-app.js';
import { readmeBlockAfter, ROOT, typeCheck } from './readme-blocks.js';

const generated = join(ROOT, 'test', 'readme', 'generated');
const MARKER = '<!-- readme-example: auditing.guard.ts';

interface PastedGuard {
  AuditingGuard: Type;
  audit: { path: string; outcome: string }[];
}

describe("the README's auditing guard, as written", () => {
  let issuer: TokenServer;
  let app: GuardedApp;
  let pasted: PastedGuard;

  beforeAll(async () => {
    mkdirSync(generated, { recursive: true });
    writeFileSync(join(generated, 'auditing.guard.ts'), readmeBlockAfter(MARKER, 'ts'));
    // Written just above, so not there for the type checker: imported by a path it does not resolve.
    const path = './generated/auditing.guard.js';
    pasted = (await import(path)) as PastedGuard;

    @Controller()
    @UseGuards(pasted.AuditingGuard)
    class AuditedController {
      @Get('open')
      open(): { ok: true } {
        return { ok: true };
      }

      @RequireScopes('orders:read')
      @Get('orders')
      orders(): { ok: true } {
        return { ok: true };
      }
    }

    issuer = await startTokenServer({ clients: { 'readme-client': 'readme-secret' } });
    app = await startGuardedApp(
      [V3TokenAuthModule.forRoot({ tokenUrl: issuer.tokenUrl, retry: { attempts: 1 } })],
      'express',
      [AuditedController],
    );
  });

  afterAll(async () => {
    await app?.close();
    await issuer?.close();
  });

  it('type-checks under the repository tsconfig', async () => {
    await expect(typeCheck(generated, 'auditing.guard.ts', 'tsconfig.guard.json')).resolves.toBeUndefined();
  }, 120_000);

  it('records every request, and a scope refusal as a second call after the admission, as the README says', async () => {
    const credentials = basic('readme-client', 'readme-secret');
    expect((await httpGet(`${app.url}/open`, credentials)).status).toBe(200);
    expect((await httpGet(`${app.url}/open`, basic('readme-client', 'wrong'))).status).toBe(401);
    expect(pasted.audit).toEqual([
      { path: '/open', outcome: 'admitted' },
      { path: '/open', outcome: 'refused' },
    ]);
    pasted.audit.length = 0;
    expect((await httpGet(`${app.url}/orders`, credentials)).status).toBe(403);
    expect(pasted.audit).toEqual([
      { path: '/orders', outcome: 'admitted' },
      { path: '/orders', outcome: 'refused' },
    ]);
  });
});
