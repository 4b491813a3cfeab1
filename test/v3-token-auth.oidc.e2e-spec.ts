import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { V3TokenService } from 'nestjs-v3-token-auth';
import { startOidcProvider, type OidcProviderServer } from './support/oidc-provider.js';
import { basic, moduleApps } from './support/v3-token-auth-app.js';

const POST_CLIENT = { client_id: 'oidc-post', client_secret: 'oidc-post-secret' };
const BASIC_CLIENT = {
  client_id: 'oidc-basic',
  client_secret: 'oidc-basic-secret',
  token_endpoint_auth_method: 'client_secret_basic' as const,
};
const LIFETIME_SECONDS = 120;

/** What reached the token endpoint through the counting wrapper. */
interface CountedRequest {
  method: string;
  grantType: string | null;
  clientId: string | null;
  basicAuth: boolean;
  status: number;
}

/** A counting HTTP wrapper in front of oidc-provider's token endpoint: records each request, then relays it. */
async function startCountingProxy(
  target: string,
): Promise<{ url: string; requests: CountedRequest[]; server: Server }> {
  const requests: CountedRequest[] = [];
  const readBody = async (request: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const form = new URLSearchParams(body);
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'authorization', 'accept']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const relayed = await fetch(target, { method: request.method, headers, body });
      const text = await relayed.text();
      requests.push({
        method: request.method ?? '',
        grantType: form.get('grant_type'),
        clientId: form.get('client_id'),
        basicAuth: headers.authorization?.startsWith('Basic ') ?? false,
        status: relayed.status,
      });
      response.writeHead(relayed.status, {
        'content-type': relayed.headers.get('content-type') ?? 'application/json',
        'cache-control': 'no-store',
      });
      response.end(text);
    })().catch(() => {
      response.writeHead(502).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/token`, requests, server };
}

describe('V3TokenAuthModule against oidc-provider (an independent OAuth 2.0 server)', () => {
  let provider: OidcProviderServer;
  let proxy: Awaited<ReturnType<typeof startCountingProxy>>;
  const { start, closeAll } = moduleApps(() => proxy.url);

  beforeAll(async () => {
    provider = await startOidcProvider({
      clients: [POST_CLIENT, BASIC_CLIENT],
      tokenLifetimeSeconds: LIFETIME_SECONDS,
    });
    proxy = await startCountingProxy(provider.tokenUrl);
  });

  afterEach(async () => {
    await closeAll();
    proxy.requests.length = 0;
  });

  afterAll(async () => {
    proxy.server.closeAllConnections();
    await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
    await provider.close();
  });

  it('performs a client_credentials grant with client_secret_post and caches the token', async () => {
    const app = await start();
    const header = basic(POST_CLIENT.client_id, POST_CLIENT.client_secret);

    const first = await app.me(header);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ clientId: POST_CLIENT.client_id, tokenType: 'Bearer' });
    const remaining = (first.body?.expiresAt as number) - Date.now();
    expect(remaining).toBeGreaterThan((LIFETIME_SECONDS - 5) * 1000);
    expect(remaining).toBeLessThanOrEqual(LIFETIME_SECONDS * 1000);

    const second = await app.me(header);
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => app.me(header)));
    for (const answer of [second, ...concurrent])
      expect(answer.body?.accessToken).toBe(first.body?.accessToken);

    expect(proxy.requests).toEqual([
      {
        method: 'POST',
        grantType: 'client_credentials',
        clientId: POST_CLIENT.client_id,
        basicAuth: false,
        status: 200,
      },
    ]);
  });

  it('performs the grant with client_secret_basic for a client registered that way', async () => {
    const app = await start({ clientAuthMethod: 'client_secret_basic' });
    const answer = await app.me(basic(BASIC_CLIENT.client_id, BASIC_CLIENT.client_secret));

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ clientId: BASIC_CLIENT.client_id });
    expect(proxy.requests).toEqual([
      expect.objectContaining({ basicAuth: true, clientId: null, status: 200 }),
    ]);
  });

  it("maps oidc-provider's refusal of a wrong secret to 401 and remembers it", async () => {
    const app = await start();
    const header = basic(POST_CLIENT.client_id, 'not-the-secret');

    for (let i = 0; i < 3; i++) {
      const refused = await app.me(header);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/Basic realm=/);
      expect(refused.body).toMatchObject({ statusCode: 401, oauthError: 'invalid_client' });
      expect(refused.text).not.toContain('not-the-secret');
    }
    expect(proxy.requests).toEqual([expect.objectContaining({ status: 401 })]);
  });

  it('answers the V3 token contract from issueToken with the remaining lifetime', async () => {
    const app = await start();
    const tokens = app.app.get(V3TokenService);
    const issued = await tokens.issueToken({ grant_type: 'client_credentials', ...POST_CLIENT });

    expect(issued.token_type).toBe('Bearer');
    expect(issued.expires_in).toBeGreaterThan(LIFETIME_SECONDS - 5);
    expect(issued.expires_in).toBeLessThanOrEqual(LIFETIME_SECONDS);
    const opened = await app.me(`Bearer ${issued.access_token}`);
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ clientId: POST_CLIENT.client_id, accessToken: issued.access_token });
    expect(proxy.requests).toHaveLength(1);
  });
});
