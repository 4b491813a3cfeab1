import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createSandboxApp } from '../../apps/sandbox/src/sandbox.app.js';
import { SandboxIssuerService } from '../../apps/sandbox/src/sandbox-issuer.service.js';

export type {
  SandboxFaults,
  SandboxFaultMode,
  SandboxGrantRecord,
} from '../../apps/sandbox/src/sandbox-issuer.service.js';
export { SandboxIssuerService };

/** Options of {@link startTokenServer}. Every field is optional. */
export interface TokenServerOptions {
  /** Registered clients, client id → secret. Default `{ 'demo-client': 'demo-secret' }`. */
  clients?: Record<string, string>;
  /** Users the password grant accepts, username → password. Default `{ jdoe: 'password' }`. */
  users?: Record<string, string>;
  /** Access token lifetime (`expires_in`), seconds. Default 300. `0` issues already-expired tokens. */
  tokenLifetimeSeconds?: number;
  /** Refresh token lifetime (`refresh_expires_in`), seconds. Default 1800. */
  refreshLifetimeSeconds?: number;
  /** The Keycloak realm served at `keycloakTokenUrl`; other realms answer 404. Default `'v3'`. */
  realm?: string;
}

/** A running sandbox token server on 127.0.0.1. */
export interface TokenServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** The V3 platform's token endpoint: `<baseUrl>/token`. */
  tokenUrl: string;
  /** The Keycloak-shaped token endpoint: `<baseUrl>/realms/<realm>/protocol/openid-connect/token`. */
  keycloakTokenUrl: string;
  /** The sample protected API, `<baseUrl>/v3`: any method and sub-path, demands a bearer token issued here. */
  apiUrl: string;
  /**
   * The issuer, for assertions and fault injection: `grantCount(clientId?)`, `successfulGrants(clientId?)`,
   * `grants`, `reset()`, `faults` / `setFaults({ mode, delayMs, retryAfterSeconds, status })` and
   * `lifetimes` (`{ tokenLifetimeSeconds, refreshLifetimeSeconds }` overrides for the next grants).
   */
  issuer: SandboxIssuerService;
  /** The Nest application, should a test need more. */
  app: NestFastifyApplication;
  /** Stops the server. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the sandbox (the local V3 platform stand-in) in-process on a free port of 127.0.0.1: a real HTTP token
 * endpoint for integration tests. Close it in `afterAll`.
 * @example
 * const server = await startTokenServer({ clients: { svc: 's3cret' }, tokenLifetimeSeconds: 2 });
 * await fetch(server.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'svc', client_secret: 's3cret' }) });
 * expect(server.issuer.grantCount('svc')).toBe(1);
 * await server.close();
 */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const realm = options.realm ?? 'v3';
  const app = await createSandboxApp(
    {
      clients: options.clients ?? { 'demo-client': 'demo-secret' },
      users: options.users ?? { jdoe: 'password' },
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 300,
      refreshLifetimeSeconds: options.refreshLifetimeSeconds ?? 1800,
      realm,
    },
    { logger: false },
  );
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('the token server has no TCP address');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  let closing: Promise<void> | undefined;
  return {
    baseUrl,
    tokenUrl: `${baseUrl}/token`,
    keycloakTokenUrl: `${baseUrl}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/token`,
    apiUrl: `${baseUrl}/v3`,
    issuer: app.get(SandboxIssuerService),
    app,
    close: () => (closing ??= app.close()),
  };
}
