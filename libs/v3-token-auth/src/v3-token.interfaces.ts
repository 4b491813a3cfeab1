/** Grant types the V3 token endpoint accepts. */
export type V3GrantType = 'client_credentials' | 'password' | 'refresh_token';

/** How the client authenticates to the token endpoint (RFC 6749 §2.3.1). */
export type V3ClientAuthMethod = 'client_secret_post' | 'client_secret_basic';

/**
 * The V3 token request, as sent on the wire (form-encoded).
 * @example { grant_type: 'client_credentials', client_id: 'customer_id', client_secret: 'secret' }
 */
export interface V3TokenRequest {
  grant_type: V3GrantType;
  client_id?: string;
  client_secret?: string;
  username?: string;
  password?: string;
  refresh_token?: string;
  scope?: string;
  /** RFC 8707 resource indicator: the API the token is for. Part of the cache identity. */
  resource?: string;
}

/** The V3 token response, as answered on the wire. Unknown fields from the issuer are dropped. */
export interface V3TokenResponse {
  access_token: string;
  /** Always relayed as `Bearer`. */
  token_type: 'Bearer';
  /** Seconds the access token lives from issue (integer, >= 0). */
  expires_in: number;
  refresh_token?: string;
  refresh_expires_in?: number;
  scope?: string;
}

/** HTTP metadata of one token endpoint call. */
export interface V3HttpMeta {
  status: number;
  headers: Record<string, string>;
  /** Milliseconds from sending the request to the parsed answer. */
  durationMs: number;
}

/** The V3 SDK's shape of a token call: metadata plus the parsed response. */
export interface V3TokenRequestResponse {
  httpMeta: V3HttpMeta;
  v3TokenResponse: V3TokenResponse;
  /** Epoch milliseconds at which the request was sent: expiry counts from here. */
  issuedAt: number;
}

/** Credentials presented by a caller, after parsing. Never logged, never stored. */
export interface V3Credentials {
  /** The grant to perform: `client_credentials` (id:secret) or `password` (username:password). */
  grantType: 'client_credentials' | 'password';
  /** Client id (under `password`, the module's own client id). */
  clientId: string;
  /** Client secret (under `password`, the module's own client secret). */
  clientSecret?: string;
  username?: string;
  password?: string;
  /** Space-separated scopes; normalised (deduplicated, sorted) into the cache identity. */
  scope?: string;
  /** RFC 8707 resource indicator (or audience) the token is for; part of the cache identity. */
  resource?: string;
}

/**
 * What one authentication asks the issuer for, beyond the credentials: a route's scopes and audience. Each distinct
 * (normalised scope set, resource) is its own cache entry with its own grant; `'write read'` and `['read', 'write']`
 * share one.
 * @example tokens.authenticate(req.headers.authorization, { scope: ['orders:read'], resource: 'https://orders.example' })
 */
export interface V3AuthenticateOptions {
  /** Scopes to request, space-separated or as a list. @default the module's `scope` option */
  scope?: string | readonly string[];
  /** RFC 8707 resource indicator (or audience) to request. @default none */
  resource?: string;
  /**
   * Address of the caller (as the edge derived it, e.g. per `GATEWAY_TRUSTED_PROXIES`): wrong secrets are counted
   * per client and per address, so one address cannot lock a client's owner out at another. @default none (the
   * client's own count stands in for it)
   */
  callerAddress?: string;
}

/** Options of `V3TokenService.revoke()`. */
export interface V3RevocationOptions {
  /** RFC 7009 `token_type_hint` (`access_token`, `refresh_token`), passed on to the issuer. */
  tokenTypeHint?: string;
  /** Address of the caller, counted by the wrong-secret throttle as for grants. */
  callerAddress?: string;
}

/**
 * What `revoke()` did here: `evicted` (a token this cache handed out to the client, now refused everywhere),
 * `not_owned` (another client's token: left alone) or `unknown` (not in this cache: only passed on to the issuer).
 */
export type V3RevocationOutcome = 'evicted' | 'not_owned' | 'unknown';

/**
 * The authenticated caller, set on `request.user` by the `v3-token` strategy.
 * @example { clientId: 'customer_id', accessToken: 'eyJ...', tokenType: 'Bearer', expiresAt: 1767225600000 }
 */
export interface V3Principal {
  clientId: string;
  username?: string;
  accessToken: string;
  tokenType: 'Bearer';
  /** Epoch milliseconds at which the access token expires (as issued, without skew). */
  expiresAt: number;
  scope?: string;
  /**
   * Whom the token is meant for: a JWT's `aud`, or the RFC 8707 resource this module granted it for; absent when
   * neither is known. `authenticate(…, { resource })` refuses a Bearer token whose audience lacks the resource.
   */
  audience?: readonly string[];
}
