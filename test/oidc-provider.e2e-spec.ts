import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startOidcProvider, type OidcProviderServer } from './support/oidc-provider.js';

describe('startOidcProvider (an independent OAuth 2.0 server)', () => {
  let provider: OidcProviderServer;

  beforeAll(async () => {
    provider = await startOidcProvider({
      clients: [
        { client_id: 'post-client', client_secret: 'post-secret' },
        {
          client_id: 'basic-client',
          client_secret: 'basic-secret',
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      tokenLifetimeSeconds: 120,
    });
  });
  afterAll(() => provider.close());

  it('names its token endpoint from the discovery document', async () => {
    expect(provider.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = (await (
      await fetch(`${provider.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(provider.tokenUrl).toBe(discovery.token_endpoint);
    expect(discovery.grant_types_supported).toContain('client_credentials');
  });

  it('grants client_credentials to a client_secret_post client', async () => {
    const response = await fetch(provider.tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'post-client',
        client_secret: 'post-secret',
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 120 });
    expect(typeof body.access_token).toBe('string');
    expect((body.access_token as string).length).toBeGreaterThan(20);
  });

  it('grants client_credentials to a client_secret_basic client', async () => {
    const response = await fetch(provider.tokenUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('basic-client:basic-secret').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toHaveProperty('access_token');
  });

  it('refuses a wrong secret with 401 invalid_client', async () => {
    const response = await fetch(provider.tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'post-client',
        client_secret: 'nope',
      }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });
});
