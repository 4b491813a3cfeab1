import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, UseGuards, type Type } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RequireScopes, V3TokenAuthModule } from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic, httpGet, startGuardedApp, type GuardedApp } from '../support/v3-token-auth-app.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const generated = join(here, 'generated');
const MARKER = '<!-- readme-example: auditing.guard.ts';

/** The TypeScript block that follows the README's guard marker, exactly as a user would paste it. */
function readmeGuard(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no "${MARKER}" marker`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error('README.md has no ```ts block after the guard marker');
  return block[1];
}

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
    writeFileSync(join(generated, 'auditing.guard.ts'), readmeGuard());
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
    const tsconfig = join(generated, 'tsconfig.guard.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: relative(generated, join(root, 'tsconfig.json')),
        compilerOptions: { noEmit: true, rootDir: relative(generated, root) },
        include: ['auditing.guard.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(promisify(execFile)(process.execPath, [tsc, '-p', tsconfig])).resolves.toBeDefined();
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
