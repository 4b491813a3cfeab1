import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic } from '../support/v3-token-auth-app.js';
import { startGateway, type GatewayInstance } from './fault-harness.js';

const CLIENTS: Record<string, string> = {
  owner: 'owner-right-secret',
  refreshed: 'refreshed-right-secret',
};

const wrongSecret = (i: number): string => `guessed-secret-number-${i}-xyz`;

interface RawAnswer {
  status: number;
  text: string;
}

/** One HTTP/1.1 request over a raw socket bound to `localAddress`, so the gateway sees that caller address. */
function rawHttp(
  url: string,
  localAddress: string,
  lines: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const body = lines.body ?? '';
  const headers = {
    host: `${hostname}:${port}`,
    connection: 'close',
    'content-length': String(Buffer.byteLength(body)),
    ...lines.headers,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), localAddress });
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(`${lines.method} ${lines.path} HTTP/1.1\r\n${head}\r\n${body}`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
  });
}

const proxied = (gateway: GatewayInstance, from: string, clientId: string, secret: string) =>
  rawHttp(gateway.url, from, {
    method: 'GET',
    path: '/v3/x',
    headers: { authorization: basic(clientId, secret) },
  });

const tokenForm = (gateway: GatewayInstance, from: string, form: Record<string, string>) =>
  rawHttp(gateway.url, from, {
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });

/** Issue 11: wrong secrets from one caller address never lock the owner out; refresh grants pass the same gate. */
describe('faults: the wrong-secret throttle per client and caller address', () => {
  let issuer: TokenServer;
  let gateway: GatewayInstance;

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: CLIENTS, tokenLifetimeSeconds: 300 });
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      TOKEN_MAX_FAILED_ATTEMPTS: '5',
      TOKEN_INVALID_CREDENTIALS_TTL_MS: '0',
    });
  });

  afterEach(() => issuer.issuer.reset());
  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('throttles the guessing address, never the owner at another address, nor the owner once known-good', async () => {
    const guesses: RawAnswer[] = [];
    for (let i = 0; i < 7; i++) guesses.push(await proxied(gateway, '127.0.0.2', 'owner', wrongSecret(i)));
    expect(guesses.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect(guesses[5].text).toMatch(/retry-after: \d+/i);
    expect(issuer.issuer.grantCount('owner')).toBe(5);

    const owner = await proxied(gateway, '127.0.0.3', 'owner', CLIENTS.owner);
    expect(owner.status).toBe(200);

    // The owner's secret obtained a token: it now passes even from the throttled address (on a cache miss too).
    await gateway.tokens.invalidate(await gateway.tokens.authenticate(basic('owner', CLIENTS.owner)));
    const fromThrottled = await tokenForm(gateway, '127.0.0.2', {
      grant_type: 'client_credentials',
      client_id: 'owner',
      client_secret: CLIENTS.owner,
    });
    expect(fromThrottled.status).toBe(200);
    expect(issuer.issuer.successfulGrants('owner')).toBe(2);
    const stillGuessing = await proxied(gateway, '127.0.0.2', 'owner', wrongSecret(99));
    expect(stillGuessing.status).toBe(429);
    for (const answer of [...guesses, owner, fromThrottled, stillGuessing]) {
      expect(answer.text).not.toContain(CLIENTS.owner);
      expect(answer.text).not.toContain('guessed-secret');
    }
  });

  it('counts wrong secrets sent as refresh grants: the N+1th is 429 and never reaches the issuer', async () => {
    const refreshes: RawAnswer[] = [];
    for (let i = 0; i < 6; i++) {
      refreshes.push(
        await tokenForm(gateway, '127.0.0.4', {
          grant_type: 'refresh_token',
          client_id: 'refreshed',
          client_secret: wrongSecret(i),
          refresh_token: 'any-refresh-token',
        }),
      );
    }
    expect(refreshes.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401, 429]);
    expect(refreshes[5].text).toMatch(/"error":"slow_down"/);
    expect(issuer.issuer.grantCount('refreshed')).toBe(5);

    const owner = await tokenForm(gateway, '127.0.0.5', {
      grant_type: 'client_credentials',
      client_id: 'refreshed',
      client_secret: CLIENTS.refreshed,
    });
    expect(owner.status).toBe(200);
  });

  it('counts guessed refresh tokens with a known-good client secret: the N+1th is 429, the owner is still served', async () => {
    // The client's secret is known-good (it obtained a token); every refresh below carries it, with a made-up token.
    const granted = await tokenForm(gateway, '127.0.0.6', {
      grant_type: 'client_credentials',
      client_id: 'refreshed',
      client_secret: CLIENTS.refreshed,
    });
    expect(granted.status).toBe(200);
    const before = issuer.issuer.grantCount('refreshed');
    const guesses: RawAnswer[] = [];
    for (let i = 0; i < 7; i++) {
      guesses.push(
        await tokenForm(gateway, '127.0.0.7', {
          grant_type: 'refresh_token',
          client_id: 'refreshed',
          client_secret: CLIENTS.refreshed,
          refresh_token: `guessed-refresh-token-${i}`,
        }),
      );
    }
    expect(guesses.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 400, 429, 429]);
    expect(guesses[0].text).toMatch(/"error":"invalid_grant"/);
    expect(issuer.issuer.grantCount('refreshed') - before).toBe(5);
    const owner = await proxied(gateway, '127.0.0.7', 'refreshed', CLIENTS.refreshed);
    expect(owner.status).toBe(200);
  });
});
