import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { readmeBlockAfter, ROOT, typeCheck } from './readme-blocks.js';

const generated = join(ROOT, 'test', 'readme', 'generated');
const MARKER = '<!-- readme-example: app.module.ts';

describe("the README's module example, as written", () => {
  let issuer: TokenServer;
  let app: INestApplication;
  let url: string;
  const saved = { V3_TOKEN_URL: process.env.V3_TOKEN_URL, REDIS_URL: process.env.REDIS_URL };

  beforeAll(async () => {
    mkdirSync(generated, { recursive: true });
    writeFileSync(join(generated, 'app.module.ts'), readmeBlockAfter(MARKER, 'ts'));
    issuer = await startTokenServer({ clients: { 'readme-client': 'readme-secret' } });
    process.env.V3_TOKEN_URL = issuer.tokenUrl;
    delete process.env.REDIS_URL;
    // Written just above, so not there for the type checker: imported by a path it does not resolve.
    const pasted = './generated/app.module.js';
    const { AppModule } = (await import(pasted)) as { AppModule: Type };
    app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    await issuer?.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('type-checks under the repository tsconfig', async () => {
    await expect(typeCheck(generated, 'app.module.ts', 'tsconfig.json')).resolves.toBeUndefined();
  }, 120_000);

  it('boots with V3_TOKEN_URL alone and answers 401 without credentials', async () => {
    const answer = await fetch(`${url}/orders`);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Basic|^Bearer/);
    expect(await answer.json()).toMatchObject({ statusCode: 401 });
  });

  it('answers 200 with the client credentials, relaying the principal', async () => {
    const basic = `Basic ${Buffer.from('readme-client:readme-secret').toString('base64')}`;
    const answer = await fetch(`${url}/orders`, { headers: { authorization: basic } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ clientId: 'readme-client' });
    expect(issuer.issuer.successfulGrants('readme-client')).toBe(1);
  });

  it('answers 401 for a wrong secret, and 200 on its @Public() route without credentials', async () => {
    const wrong = `Basic ${Buffer.from('readme-client:not-it').toString('base64')}`;
    expect((await fetch(`${url}/orders`, { headers: { authorization: wrong } })).status).toBe(401);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});
