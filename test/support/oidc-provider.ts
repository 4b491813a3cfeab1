import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

type Stored = { payload: Record<string, unknown>; expiresAt?: number };

/** A per-server in-memory adapter, so that tests do not share state (and the provider does not warn about its own). */
function memoryAdapter() {
  const store = new Map<string, Stored>();
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    private key(id: string): string {
      return `${this.model}:${id}`;
    }
    upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      store.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
      return Promise.resolve();
    }
    find(id: string): Promise<Record<string, unknown> | undefined> {
      const entry = store.get(this.key(id));
      if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) store.delete(this.key(id));
      return Promise.resolve(store.get(this.key(id))?.payload);
    }
    findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
      return Promise.resolve([...store.values()].find((entry) => entry.payload.uid === uid)?.payload);
    }
    findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined> {
      return Promise.resolve(
        [...store.values()].find((entry) => entry.payload.userCode === userCode)?.payload,
      );
    }
    consume(id: string): Promise<void> {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      return Promise.resolve();
    }
    destroy(id: string): Promise<void> {
      store.delete(this.key(id));
      return Promise.resolve();
    }
    revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
      return Promise.resolve();
    }
  };
}

/** A client of {@link startOidcProvider}, allowed the client_credentials grant only. */
export interface OidcProviderClient {
  client_id: string;
  client_secret: string;
  /** How it authenticates at the token endpoint. Default `client_secret_post`. */
  token_endpoint_auth_method?: 'client_secret_post' | 'client_secret_basic';
  /** Space-separated scopes it may ask for (of the provider's `scopes`); asking for another is `invalid_scope`. */
  scope?: string;
}

/** Options of {@link startOidcProvider}. */
export interface OidcProviderOptions {
  clients: OidcProviderClient[];
  /** Access token lifetime (`expires_in`), seconds. Default 600. */
  tokenLifetimeSeconds?: number;
  /** Scopes the provider knows, e.g. `['read', 'write']`. Default: the scopes its clients name. */
  scopes?: string[];
  /** Enables the RFC 7009 revocation and RFC 7662 introspection endpoints. Default false. */
  revocation?: boolean;
  /**
   * RFC 8707 resource servers by resource indicator, with the scopes each accepts: a grant with `resource` gets a JWT
   * access token whose `aud` is the resource. Unset: resource indicators are off.
   */
  resourceServers?: Record<string, { scope: string }>;
}

/** A running `oidc-provider` on 127.0.0.1. */
export interface OidcProviderServer {
  /** `http://127.0.0.1:<port>` */
  issuer: string;
  /** The token endpoint, as the discovery document names it. */
  tokenUrl: string;
  /** Grants the token endpoint answered with a token so far. */
  grantCount(): number;
  /** The revocation endpoint (with `revocation: true`). */
  revocationUrl?: string;
  /** The introspection endpoint (with `revocation: true`). */
  introspectionUrl?: string;
  /** Stops the server. Safe to call twice. */
  close(): Promise<void>;
}

/** oidc-provider's `allowedPolicy`: the calling client may act on a token only when the token is its own. */
const ownTokenOnly = (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }): boolean =>
  token.clientId === client.clientId;

/**
 * Starts `oidc-provider` (v9) as an independent OAuth 2.0 server on a free port of 127.0.0.1, with the
 * client_credentials grant enabled for the given clients: a second, non-sandbox token endpoint for
 * integration tests. The token URL is read from `/.well-known/openid-configuration`.
 * @example
 * const op = await startOidcProvider({ clients: [{ client_id: 'svc', client_secret: 's3cret' }] });
 * // POST op.tokenUrl  grant_type=client_credentials&client_id=svc&client_secret=s3cret
 * await op.close();
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProviderServer> {
  const server = createServer();
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const scopes = new Set(
    options.scopes ??
      options.clients.flatMap((client) => (client.scope ?? '').split(' ').filter((scope) => scope !== '')),
  );
  const resourceServers = options.resourceServers;
  const resourceIndicators: Record<string, { enabled: boolean; [key: string]: unknown }> = resourceServers
    ? {
        resourceIndicators: {
          enabled: true,
          defaultResource: () => undefined,
          useGrantedResource: () => false,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            const server = resourceServers[resource];
            if (server === undefined) throw new errors.InvalidTarget();
            return { scope: server.scope, audience: resource, accessTokenFormat: 'jwt' };
          },
        },
      }
    : {};
  const provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    ...(scopes.size > 0 ? { scopes: [...scopes] } : {}),
    clients: options.clients.map((client) => ({
      ...(client.scope === undefined ? {} : { scope: client.scope }),
      client_id: client.client_id,
      client_secret: client.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_post',
    })),
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      // A client revokes and introspects only its own tokens (set explicitly: the defaults print a notice).
      revocation: { enabled: options.revocation === true, allowedPolicy: ownTokenOnly },
      introspection: { enabled: options.revocation === true, allowedPolicy: ownTokenOnly },
      ...resourceIndicators,
    },
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    ttl: { ClientCredentials: options.tokenLifetimeSeconds ?? 600 },
  });
  let grants = 0;
  provider.on('grant.success', () => {
    grants += 1;
  });
  server.on('request', provider.callback());

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    }));
  try {
    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
    const document = (await discovery.json()) as {
      token_endpoint?: unknown;
      revocation_endpoint?: string;
      introspection_endpoint?: string;
    };
    if (typeof document.token_endpoint !== 'string') {
      throw new Error(`oidc-provider's discovery document has no token_endpoint (HTTP ${discovery.status})`);
    }
    return {
      issuer,
      tokenUrl: document.token_endpoint,
      revocationUrl: document.revocation_endpoint,
      introspectionUrl: document.introspection_endpoint,
      grantCount: () => grants,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
