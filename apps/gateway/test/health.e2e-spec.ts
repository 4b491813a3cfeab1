import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGatewayApp } from '../src/app.factory.js';
import { parseGatewayConfig } from '../src/config/gateway.config.js';
import { startRedisServer, type PrivateRedis } from '../../../test/support/redis-server.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';

async function gateway(env: Record<string, string>): Promise<{ app: NestFastifyApplication; base: string }> {
  const app = await createGatewayApp(parseGatewayConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env }));
  await app.listen(0, '127.0.0.1');
  return { app, base: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

async function health(base: string): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const answer = await fetch(`${base}/health`);
  return {
    status: answer.status,
    body: (await answer.json()) as Record<string, unknown>,
    ms: performance.now() - started,
  };
}

describe('GET /health tells the truth (e2e, real redis-server)', () => {
  let issuer: TokenServer;
  let redis: PrivateRedis;
  let withRedis: { app: NestFastifyApplication; base: string };
  let withoutRedis: { app: NestFastifyApplication; base: string };

  beforeAll(async () => {
    [issuer, redis] = await Promise.all([startTokenServer(), startRedisServer()]);
    const common = { V3_TOKEN_URL: issuer.tokenUrl, GATEWAY_ROUTES: `/v3=${issuer.baseUrl}` };
    withRedis = await gateway({ ...common, REDIS_URL: redis.url });
    withoutRedis = await gateway(common);
  });

  afterAll(async () => {
    redis?.resume();
    await Promise.all([withRedis?.app.close(), withoutRedis?.app.close()]);
    await Promise.all([issuer?.close(), redis?.stop()]);
  });

  it('reports a hung Redis (SIGSTOP, connection still open) as down, promptly and with 200', async () => {
    const before = await health(withRedis.base);
    expect(before.status).toBe(200);
    expect(JSON.stringify(before.body)).toContain('"redis":{"state":"up","status":"up"}');

    redis.pause();
    try {
      const hung = await health(withRedis.base);
      expect(hung.status).toBe(200);
      expect(JSON.stringify(hung.body)).toContain('"state":"down"');
      expect(hung.ms).toBeLessThan(5000);
    } finally {
      redis.resume();
    }
  });

  it('has no redis entry when no Redis is configured', async () => {
    const answer = await health(withoutRedis.base);
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).not.toContain('redis');
    expect(JSON.stringify(answer.body)).toContain('issuer');
  });
});
