import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link startKeycloakLikeIssuer}. */
export interface KeycloakLikeIssuerOptions {
  /** Registered clients, client id → secret. */
  clients: Record<string, string>;
  /** Scopes the realm knows; a grant asking for another answers 400 `invalid_scope`, as Keycloak does. */
  scopes: string[];
  /** How long every grant takes to answer, ms. @default 0 */
  delayMs?: number;
}

/**
 * A token endpoint that answers like Keycloak: 401 `invalid_client` for an unknown client or a wrong secret, 400
 * `invalid_scope` for a scope the realm does not know, 429 with `Retry-After` for a client the test throttles, else a
 * fresh opaque token. `GET /api/*` is a protected API that accepts the tokens it issued.
 */
export interface KeycloakLikeIssuer {
  tokenUrl: string;
  baseUrl: string;
  /** Token requests received. */
  calls: number;
  /** Most token requests it was answering at the same time. */
  maxConcurrent: number;
  /** Scopes the realm knows (the test may add one, as an administrator would). */
  scopes: Set<string>;
  /** Client ids answered 429 with `Retry-After: <seconds>`. */
  throttledClients: Map<string, number>;
  /** Token requests per client id. */
  callsOf(clientId: string): number;
  close(): Promise<void>;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startKeycloakLikeIssuer(
  options: KeycloakLikeIssuerOptions,
): Promise<KeycloakLikeIssuer> {
  const issued = new Set<string>();
  const perClient = new Map<string, number>();
  let concurrent = 0;

  const grant = (form: URLSearchParams, res: ServerResponse): void => {
    const clientId = form.get('client_id') ?? '';
    perClient.set(clientId, (perClient.get(clientId) ?? 0) + 1);
    const retryAfter = issuer.throttledClients.get(clientId);
    if (retryAfter !== undefined) {
      json(res, 429, { error: 'slow_down' }, { 'retry-after': String(retryAfter) });
      return;
    }
    if (options.clients[clientId] === undefined || options.clients[clientId] !== form.get('client_secret')) {
      json(res, 401, {
        error: 'invalid_client',
        error_description: 'Invalid client or Invalid client credentials',
      });
      return;
    }
    const unknown = (form.get('scope') ?? '')
      .split(' ')
      .filter((scope) => scope && !issuer.scopes.has(scope));
    if (unknown.length > 0) {
      json(res, 400, { error: 'invalid_scope', error_description: `Invalid scopes: ${unknown.join(' ')}` });
      return;
    }
    const token = randomBytes(24).toString('base64url');
    issued.add(token);
    json(res, 200, {
      access_token: token,
      token_type: 'Bearer',
      expires_in: 300,
      scope: form.get('scope') ?? '',
    });
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/api')) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      req.resume();
      if (token !== undefined && issued.has(token)) json(res, 200, { ok: true });
      else json(res, 401, { error: 'invalid_token' });
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      issuer.calls += 1;
      concurrent += 1;
      issuer.maxConcurrent = Math.max(issuer.maxConcurrent, concurrent);
      setTimeout(() => {
        concurrent -= 1;
        grant(new URLSearchParams(Buffer.concat(chunks).toString('utf8')), res);
      }, options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const issuer: KeycloakLikeIssuer = {
    tokenUrl: `${baseUrl}/realms/acme/protocol/openid-connect/token`,
    baseUrl,
    calls: 0,
    maxConcurrent: 0,
    scopes: new Set(options.scopes),
    throttledClients: new Map(),
    callsOf: (clientId) => perClient.get(clientId) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return issuer;
}
