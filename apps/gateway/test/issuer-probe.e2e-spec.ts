import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGatewayApp } from '../src/app.factory.js';
import { parseGatewayConfig } from '../src/config/gateway.config.js';
import { IssuerReachability } from '../src/health/issuer-reachability.js';
import { probeTokenEndpoint } from '../src/health/token-endpoint.probe.js';
import { freePort } from '../../../test/support/free-port.js';
import { startOidcProvider, type OidcProviderServer } from '../../../test/support/oidc-provider.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { waitFor } from '../../../test/support/wait.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

/** A TCP server that accepts connections and never answers: a hung issuer. */
async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/token`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the token endpoint probe (real endpoints)', () => {
  let sandbox: TokenServer;
  let oidc: OidcProviderServer;
  let echo: EchoServer;
  let silent: { url: string; close(): Promise<void> };
  let closedPort: number;

  beforeAll(async () => {
    [sandbox, oidc, echo, silent, closedPort] = await Promise.all([
      startTokenServer(),
      startOidcProvider({ clients: [{ client_id: 'probe-client', client_secret: 'probe-secret' }] }),
      startEchoServer(),
      startSilentServer(),
      freePort(),
    ]);
  });

  afterAll(async () => {
    await Promise.all([sandbox?.close(), oidc?.close(), echo?.close(), silent?.close()]);
  });

  it('finds the sandbox, its Keycloak-shaped endpoint and oidc-provider, and asks no grant of them', async () => {
    for (const url of [sandbox.tokenUrl, sandbox.keycloakTokenUrl, oidc.tokenUrl]) {
      expect(await probeTokenEndpoint(url, 5000)).toEqual({ reachability: 'reachable' });
    }
    expect(sandbox.issuer.successfulGrants()).toBe(0);
  });

  it('calls a closed port unreachable, naming the reason', async () => {
    expect(await probeTokenEndpoint(`http://127.0.0.1:${closedPort}/token`, 5000)).toEqual({
      reachability: 'unreachable',
      detail: 'ECONNREFUSED',
    });
  });

  it('calls an endpoint that accepts and never answers unreachable once the timeout passes', async () => {
    expect(await probeTokenEndpoint(silent.url, 300)).toEqual({
      reachability: 'unreachable',
      detail: 'no answer in time',
    });
  });

  it('calls a server that is no token endpoint, or a wrong realm, unexpected', async () => {
    const wrongRealm = sandbox.keycloakTokenUrl.replace('/realms/v3/', '/realms/nope/');
    for (const url of [`${echo.url}/token`, wrongRealm, `${sandbox.baseUrl}/no-such-path`]) {
      const result = await probeTokenEndpoint(url, 5000);
      expect(result.reachability).toBe('unexpected');
      expect(result.detail).toMatch(/^answered \d{3} without an OAuth error/);
    }
  });
});

describe('GET /health shows the probe (in-process gateway)', () => {
  let issuer: TokenServer;
  const apps: NestFastifyApplication[] = [];

  async function gateway(tokenUrl: string): Promise<{ app: NestFastifyApplication; base: string }> {
    const app = await createGatewayApp(
      parseGatewayConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        V3_TOKEN_URL: tokenUrl,
        V3_TOKEN_TIMEOUT_MS: '2000',
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      }),
    );
    app.useLogger(false);
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    return { app, base: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
  }

  beforeAll(async () => {
    issuer = await startTokenServer();
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await issuer?.close();
  });

  it('asks the token endpoint nothing until a probe ran: /health says unknown and stays up', async () => {
    let connections = 0;
    const listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = listener.address() as { port: number };
      const { base } = await gateway(`http://127.0.0.1:${port}/token`);
      for (let i = 0; i < 3; i++) {
        const health = await fetch(`${base}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toMatchObject({
          status: 'ok',
          info: { issuer: { status: 'up', endpoint: 'unknown' } },
        });
      }
      expect(connections).toBe(0);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it('an unreachable token endpoint is degraded in /health (200), and never fails liveness or readiness', async () => {
    const { app, base } = await gateway(`http://127.0.0.1:${await freePort()}/token`);
    expect((await app.get(IssuerReachability).probe()).reachability).toBe('unreachable');
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'degraded',
      info: {
        issuer: { status: 'degraded', state: 'closed', endpoint: 'unreachable', detail: 'ECONNREFUSED' },
      },
    });
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('a reachable one is up', async () => {
    const { app, base } = await gateway(issuer.tokenUrl);
    expect((await app.get(IssuerReachability).probe()).reachability).toBe('reachable');
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      info: { issuer: { status: 'up', state: 'closed', endpoint: 'reachable' } },
    });
  });

  it('probes again from /health, at most every 30 s, while the endpoint is not found; then it is up', async () => {
    const port = await freePort();
    const { app, base } = await gateway(`http://127.0.0.1:${port}/token`);
    const reachability = app.get(IssuerReachability);
    let now = 0;
    reachability.now = () => now;
    expect((await reachability.probe()).reachability).toBe('unreachable');

    // The issuer comes up at the configured address: a TCP relay to the real sandbox.
    const target = Number(new URL(issuer.baseUrl).port);
    let connections = 0;
    const relayed = new Set<Socket>();
    const relay = createServer((socket) => {
      connections++;
      relayed.add(socket);
      const upstream = connect(target, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
    try {
      now = 29_000;
      expect(await (await fetch(`${base}/health`)).json()).toMatchObject({
        info: { issuer: { endpoint: 'unreachable' } },
      });
      expect(connections).toBe(0);

      now = 30_000;
      await fetch(`${base}/health`);
      await waitFor(() => reachability.current.reachability === 'reachable', 20_000);
      expect(connections).toBe(1);
      expect(await (await fetch(`${base}/health`)).json()).toMatchObject({
        status: 'ok',
        info: { issuer: { status: 'up', endpoint: 'reachable' } },
      });
      now = 90_000;
      await fetch(`${base}/health`);
      expect(connections).toBe(1);
    } finally {
      await app.close();
      apps.splice(apps.indexOf(app), 1);
      for (const socket of relayed) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});
