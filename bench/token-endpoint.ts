import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The secret the bench token endpoint expects for `clientId`: any client exists, a wrong secret is refused. */
export function benchSecret(clientId: string): string {
  return `secret-${clientId}`;
}

/** The password the bench token endpoint expects for `username` in the password grant. */
export function benchPassword(username: string): string {
  return `password-${username}`;
}

/** Options of {@link startBenchTokenEndpoint}. */
export interface BenchTokenEndpointOptions {
  /** Port on 127.0.0.1. @default 0 (a free port) */
  port?: number;
  /** Latency of every grant, as a real issuer has. @default 0 */
  grantDelayMs?: number;
  /** `expires_in` of issued tokens, seconds. @default 3600 */
  tokenTtlSeconds?: number;
}

/** How many grants the endpoint performed, in all and per client. */
export interface GrantStats {
  total: number;
  distinctClients: number;
  maxPerClient: number;
  /** Grants per client id, for the ids asked for. */
  byClient: Record<string, number>;
}

/** A minimal V3 token endpoint on loopback (form or JSON POST /token → V3TokenResponse) that counts its grants. */
export interface BenchTokenEndpoint {
  port: number;
  /** The token URL, `http://127.0.0.1:<port>/token`. */
  url: string;
  stats(clientIds?: readonly string[]): GrantStats;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;

class BadRequest extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    description: string,
  ) {
    super(description);
  }
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadRequest(413, 'invalid_request', `The request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseParams(req: IncomingMessage, body: string): Map<string, string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return new Map(new URLSearchParams(body));
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new BadRequest(400, 'invalid_request', 'The JSON body does not parse');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new BadRequest(400, 'invalid_request', 'The JSON body must be an object');
    }
    return new Map(
      Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
  }
  throw new BadRequest(
    400,
    'invalid_request',
    'Send application/x-www-form-urlencoded (or application/json)',
  );
}

function basicCredentials(req: IncomingMessage): [string, string] | undefined {
  const header = req.headers.authorization;
  if (!header?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new BadRequest(400, 'invalid_request', 'The Basic credentials lack a colon');
  return [decodeURIComponent(decoded.slice(0, colon)), decodeURIComponent(decoded.slice(colon + 1))];
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the bench token endpoint. Every client id exists; its secret is {@link benchSecret}. */
export async function startBenchTokenEndpoint(
  options: BenchTokenEndpointOptions = {},
): Promise<BenchTokenEndpoint> {
  const grantDelayMs = options.grantDelayMs ?? 0;
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  const grantsByClient = new Map<string, number>();
  let total = 0;
  let maxPerClient = 0;

  const grant = async (params: Map<string, string>, req: IncomingMessage): Promise<unknown> => {
    const basic = basicCredentials(req);
    const clientId = basic?.[0] ?? params.get('client_id') ?? '';
    const clientSecret = basic?.[1] ?? params.get('client_secret') ?? '';
    if (!clientId || !clientSecret)
      throw new BadRequest(401, 'invalid_client', 'client_id and client_secret are required');
    if (!sameString(clientSecret, benchSecret(clientId))) {
      throw new BadRequest(401, 'invalid_client', 'Invalid client credentials');
    }
    const grantType = params.get('grant_type');
    if (grantType === 'password') {
      const username = params.get('username') ?? '';
      if (!username || !sameString(params.get('password') ?? '', benchPassword(username))) {
        throw new BadRequest(400, 'invalid_grant', 'Invalid user credentials');
      }
    } else if (grantType === 'refresh_token') {
      if (!params.get('refresh_token')?.startsWith('rt.')) {
        throw new BadRequest(400, 'invalid_grant', 'Invalid refresh token');
      }
    } else if (grantType !== 'client_credentials') {
      throw new BadRequest(
        400,
        'unsupported_grant_type',
        'grant_type must be client_credentials, password or refresh_token',
      );
    }
    if (grantDelayMs > 0) await delay(grantDelayMs);
    const count = (grantsByClient.get(clientId) ?? 0) + 1;
    grantsByClient.set(clientId, count);
    total += 1;
    maxPerClient = Math.max(maxPerClient, count);
    return {
      access_token: `at.${randomBytes(24).toString('base64url')}`,
      token_type: 'Bearer',
      expires_in: tokenTtlSeconds,
      refresh_token: `rt.${randomBytes(24).toString('base64url')}`,
      refresh_expires_in: tokenTtlSeconds * 2,
    };
  };

  const stats = (clientIds: readonly string[] = []): GrantStats => ({
    total,
    distinctClients: grantsByClient.size,
    maxPerClient,
    byClient: Object.fromEntries(clientIds.map((id) => [id, grantsByClient.get(id) ?? 0])),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/stats' && req.method === 'GET') {
      const ids = url.searchParams.get('clients');
      sendJson(res, 200, stats(ids ? ids.split(',') : []));
      return;
    }
    if (url.pathname !== '/token') {
      sendJson(res, 404, { error: 'not_found', error_description: 'POST /token or GET /stats' });
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      sendJson(res, 405, { error: 'invalid_request', error_description: 'The token endpoint takes POST' });
      return;
    }
    try {
      const params = parseParams(req, await readBody(req));
      sendJson(res, 200, await grant(params, req));
    } catch (error) {
      if (error instanceof BadRequest) {
        sendJson(res, error.status, { error: error.code, error_description: error.message });
      } else {
        sendJson(res, 400, { error: 'invalid_request', error_description: 'The request could not be read' });
      }
    }
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/token`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
