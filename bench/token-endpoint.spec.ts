import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  benchSecret,
  startBenchTokenEndpoint,
  type BenchTokenEndpoint,
  type GrantStats,
} from './token-endpoint.js';

describe('bench token endpoint', () => {
  let endpoint: BenchTokenEndpoint;

  beforeAll(async () => {
    endpoint = await startBenchTokenEndpoint({ tokenTtlSeconds: 120 });
  });
  afterAll(() => endpoint.close());

  const post = (body: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
  const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

  it('answers a client_credentials form POST with a V3TokenResponse and counts the grant', async () => {
    const response = await post(
      form({ grant_type: 'client_credentials', client_id: 'alpha', client_secret: benchSecret('alpha') }),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      access_token: expect.stringMatching(/^at\./),
      token_type: 'Bearer',
      expires_in: 120,
      refresh_token: expect.stringMatching(/^rt\./),
      refresh_expires_in: 240,
    });
    expect(endpoint.stats(['alpha']).byClient).toEqual({ alpha: 1 });
  });

  it('issues a different access token on every grant', async () => {
    const fields = form({
      grant_type: 'client_credentials',
      client_id: 'beta',
      client_secret: benchSecret('beta'),
    });
    const first = (await (await post(fields)).json()) as { access_token: string };
    const second = (await (await post(fields)).json()) as { access_token: string };
    expect(first.access_token).not.toBe(second.access_token);
    expect(endpoint.stats(['beta']).byClient.beta).toBe(2);
  });

  it('takes client credentials from a Basic header (client_secret_basic) and JSON bodies', async () => {
    const basic = `Basic ${Buffer.from(`gamma:${benchSecret('gamma')}`).toString('base64')}`;
    expect((await post(form({ grant_type: 'client_credentials' }), { authorization: basic })).status).toBe(
      200,
    );
    const json = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: 'gamma',
        client_secret: benchSecret('gamma'),
      }),
    });
    expect(json.status).toBe(200);
    expect(endpoint.stats(['gamma']).byClient.gamma).toBe(2);
  });

  it('refuses a wrong secret with 401 invalid_client, counts no grant and does not echo the secret', async () => {
    const before = endpoint.stats().total;
    const response = await post(
      form({ grant_type: 'client_credentials', client_id: 'delta', client_secret: 'hunter2' }),
    );
    expect(response.status).toBe(401);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ error: 'invalid_client' });
    expect(text).not.toContain('hunter2');
    expect(endpoint.stats().total).toBe(before);
  });

  it('answers bad input with a 4xx OAuth error body', async () => {
    const cases: Array<[Promise<Response>, number, string]> = [
      [
        post(form({ grant_type: 'implicit', client_id: 'e', client_secret: benchSecret('e') })),
        400,
        'unsupported_grant_type',
      ],
      [post('grant_type=client_credentials', { 'content-type': 'text/plain' }), 400, 'invalid_request'],
      [post('{not json', { 'content-type': 'application/json' }), 400, 'invalid_request'],
      [fetch(endpoint.url), 405, 'invalid_request'],
      [
        post(
          form({
            grant_type: 'password',
            client_id: 'e',
            client_secret: benchSecret('e'),
            username: 'u',
            password: 'x',
          }),
        ),
        400,
        'invalid_grant',
      ],
    ];
    for (const [pending, status, error] of cases) {
      const response = await pending;
      expect(response.status).toBe(status);
      expect(await response.json()).toMatchObject({ error });
    }
  });

  it('reports its grants over GET /stats', async () => {
    const response = await fetch(`${endpoint.url.replace('/token', '/stats')}?clients=alpha,beta,nobody`);
    const stats = (await response.json()) as GrantStats;
    expect(stats.byClient).toEqual({ alpha: 1, beta: 2, nobody: 0 });
    expect(stats.total).toBe(endpoint.stats().total);
    expect(stats.maxPerClient).toBe(2);
    expect(stats.distinctClients).toBe(3);
  });
});
