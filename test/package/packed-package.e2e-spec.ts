import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTokenServer, type TokenServer } from '../support/token-server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const LIBRARY_DIST = join(ROOT, 'libs', 'v3-token-auth', 'dist', 'index.js');
const built = existsSync(LIBRARY_DIST);
const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** A Nest app as a user writes it, in plain ESM: the module from the installed tarball, one grant, then close. */
const BOOT_SCRIPT = `import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TokenStore, V3TokenAuthModule, V3TokenService } from 'nestjs-v3-token-auth';

const redis = process.env.REDIS_URL ? { url: process.env.REDIS_URL } : undefined;
class AppModule {}
Module({ imports: [V3TokenAuthModule.forRoot({ tokenUrl: process.env.V3_TOKEN_URL, redis })] })(AppModule);
try {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
  const principal = await app.get(V3TokenService).authenticateCredentials({
    grantType: 'client_credentials',
    clientId: 'pack-client',
    clientSecret: 'pack-secret',
  });
  const store = app.get(TokenStore).constructor.name;
  await app.close();
  process.stdout.write(JSON.stringify({ store, clientId: principal.clientId, tokenType: principal.tokenType }));
} catch (error) {
  process.stderr.write(String(error instanceof Error ? error.message : error));
  process.exitCode = 1;
}
`;

/** The environment without npm's own \`npm_*\` variables, so the nested npm and node see a user's shell. */
function userEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  return { ...env, ...extra };
}

(built ? describe : describe.skip)('the packed package, installed into an app without ioredis', () => {
  let work: string;
  let app: string;
  let issuer: TokenServer;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'v3-packed-'));
    app = join(work, 'app');
    mkdirSync(app);
    // The pack half of `npm run pack:lib` (the build half already ran: `built`), into a folder of its own.
    const packed = await run(
      NPM,
      ['pack', '-w', 'nestjs-v3-token-auth', '--pack-destination', work, '--json', '--silent'],
      { cwd: ROOT, env: userEnvironment() },
    );
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    writeFileSync(join(app, 'boot.mjs'), BOOT_SCRIPT);
    // The README's install line; the non-optional peers (@nestjs/*, passport, rxjs…) come with it.
    await run(
      NPM,
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(work, filename)],
      { cwd: app, env: userEnvironment() },
    );
    issuer = await startTokenServer({ clients: { 'pack-client': 'pack-secret' } });
  }, 300_000);

  afterAll(async () => {
    await issuer?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('marks ioredis an optional peer, so npm installs the package without it', () => {
    const manifest = JSON.parse(
      readFileSync(join(app, 'node_modules', 'nestjs-v3-token-auth', 'package.json'), 'utf8'),
    ) as {
      dependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    expect(manifest.dependencies).not.toHaveProperty('ioredis');
    expect(manifest.peerDependenciesMeta?.ioredis?.optional).toBe(true);
    expect(existsSync(join(app, 'node_modules', 'ioredis'))).toBe(false);
  });

  it('boots with the in-process store and grants against a real token endpoint', async () => {
    const booted = await run(process.execPath, ['boot.mjs'], {
      cwd: app,
      env: userEnvironment({ V3_TOKEN_URL: issuer.tokenUrl }),
    });
    expect(JSON.parse(booted.stdout)).toEqual({
      store: 'MemoryTokenStore',
      clientId: 'pack-client',
      tokenType: 'Bearer',
    });
    expect(issuer.issuer.successfulGrants('pack-client')).toBe(1);
  });

  it('with Redis configured but ioredis missing, fails boot saying what to install', async () => {
    const failed = run(process.execPath, ['boot.mjs'], {
      cwd: app,
      env: userEnvironment({ V3_TOKEN_URL: issuer.tokenUrl, REDIS_URL: 'redis://127.0.0.1:1' }),
    });
    await expect(failed).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('`npm install ioredis@^6`') as unknown as string,
    });
  });
});
