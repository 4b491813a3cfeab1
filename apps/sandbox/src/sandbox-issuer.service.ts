import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { SANDBOX_OPTIONS } from './sandbox.module-definition.js';
import type { SandboxOptions } from './sandbox.options.js';

/** How the token endpoint misbehaves on purpose. `none` answers normally. */
export type SandboxFaultMode =
  'none' | 'unavailable' | 'rate_limited' | 'slow' | 'malformed' | 'html' | 'drop';

/**
 * Fault knobs, settable at runtime by tests (`issuer.faults.mode = 'unavailable'` or `issuer.setFaults({...})`).
 * - `unavailable`: `status` (default 503) with an OAuth-style JSON error, and `Retry-After` when `retryAfterSeconds` > 0.
 * - `rate_limited`: `status` (default 429) with `Retry-After: retryAfterSeconds`.
 * - `slow`: waits `delayMs`, then answers normally.
 * - `malformed`: `status` (default 200) with a JSON body that has no `access_token`.
 * - `html`: `status` (default 200) with a `text/html` body.
 * - `drop`: destroys the socket without answering.
 */
export interface SandboxFaults {
  mode: SandboxFaultMode;
  /** Delay of the `slow` mode, in milliseconds. Default 1000. */
  delayMs: number;
  /** `Retry-After` of the `unavailable` and `rate_limited` modes, in seconds. Default 1. */
  retryAfterSeconds: number;
  /** Overrides the status code of the `unavailable`, `rate_limited`, `malformed` and `html` modes. */
  status?: number;
}

/** How a token request presented its client credentials. */
export type SandboxClientAuth = 'post' | 'basic' | 'none';

/** One request that reached the token endpoint. Holds no secret. */
export interface SandboxGrantRecord {
  /** `grant_type` as sent (empty when missing). */
  grantType: string;
  /** The client id as presented, when there was one. */
  clientId?: string;
  clientAuth: SandboxClientAuth;
  /** Epoch milliseconds at which the request arrived. */
  at: number;
  /** Whether a token was issued, the request was refused, or a fault answered it. */
  outcome: 'issued' | 'rejected' | 'faulted';
  /** Status code answered (0 for a dropped connection). */
  status: number;
}

/** Lifetime overrides, in seconds, applied to the next grants until `reset()`. */
export interface SandboxLifetimeOverrides {
  tokenLifetimeSeconds?: number;
  refreshLifetimeSeconds?: number;
}

/** A token request as the controller read it off the wire. */
export interface SandboxTokenRequest {
  /** The parsed body: a form or JSON object; anything else counts as empty. */
  body: unknown;
  /** The `Authorization` header, if any. */
  authorization?: string;
  /** The `iss` of the tokens issued: the realm URL, or the sandbox's base URL for `/token`. */
  issuer: string;
}

/** What the token endpoint answers. `drop` means: destroy the socket. */
export type SandboxTokenReply =
  | { kind: 'json'; status: number; headers: Record<string, string>; body: object }
  | { kind: 'text'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'drop' };

/** The caller behind a valid access token. */
export interface SandboxPrincipal {
  clientId: string;
  username?: string;
  subject: string;
  expiresAt: number;
}

/** Why an access token was refused. */
export class SandboxTokenRejection extends Error {
  override readonly name = 'SandboxTokenRejection';
}

interface OAuthError {
  status: number;
  error: string;
  description: string;
}

const INVALID_CLIENT = 'Invalid client or Invalid client credentials';
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
const SCOPE = 'profile email';
const DEFAULT_FAULTS: SandboxFaults = { mode: 'none', delayMs: 1000, retryAfterSeconds: 1 };

class OAuthRefusal extends Error {
  constructor(readonly refusal: OAuthError) {
    super(refusal.description);
  }
}

function refuse(status: number, error: string, description: string): never {
  throw new OAuthRefusal({ status, error, description });
}

function sameSecret(expected: string, presented: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(expected), digest(presented));
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * The sandbox's issuer: grant rules (client_credentials, password, refresh_token), HS256 JWTs, refresh tokens,
 * a record of every token request, and fault knobs for tests.
 */
@Injectable()
export class SandboxIssuerService implements OnModuleDestroy {
  private readonly key: Uint8Array;
  private readonly clock: () => number;
  private readonly records: SandboxGrantRecord[] = [];
  private readonly shutdown = new AbortController();

  /** Fault knobs; mutate them or call `setFaults()`. Reset by `reset()`. */
  faults: SandboxFaults = { ...DEFAULT_FAULTS };
  /** Lifetime overrides for the next grants. Reset by `reset()`. */
  lifetimes: SandboxLifetimeOverrides = {};

  constructor(@Inject(SANDBOX_OPTIONS) private readonly options: SandboxOptions) {
    this.key = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : randomBytes(32);
    this.clock = options.clock ?? Date.now;
  }

  /** Every token request so far, oldest first. */
  get grants(): readonly SandboxGrantRecord[] {
    return this.records;
  }

  /** Token requests that reached the endpoint (faulted and refused ones included), optionally for one client id. */
  grantCount(clientId?: string): number {
    return this.records.filter((record) => clientId === undefined || record.clientId === clientId).length;
  }

  /** Token requests answered with a token, optionally for one client id. */
  successfulGrants(clientId?: string): number {
    return this.records.filter(
      (record) => record.outcome === 'issued' && (clientId === undefined || record.clientId === clientId),
    ).length;
  }

  /** Merges fault knobs into the current ones. @example issuer.setFaults({ mode: 'rate_limited', retryAfterSeconds: 7 }) */
  setFaults(faults: Partial<SandboxFaults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  /** Clears the records, the faults and the lifetime overrides. Issued tokens stay valid. */
  reset(): void {
    this.records.length = 0;
    this.faults = { ...DEFAULT_FAULTS };
    this.lifetimes = {};
  }

  /** Whether the realm in `/realms/<realm>/...` is served. */
  servesRealm(realm: string): boolean {
    return this.options.realm === undefined || this.options.realm === realm;
  }

  onModuleDestroy(): void {
    this.shutdown.abort();
  }

  /** Answers one token request: records it, applies the fault knobs, then the grant rules. Never throws. */
  async handleTokenRequest(request: SandboxTokenRequest): Promise<SandboxTokenReply> {
    const params = this.readParams(request.body);
    const record: SandboxGrantRecord = {
      grantType: typeof params.grant_type === 'string' ? params.grant_type : '',
      clientAuth: request.authorization?.trim().toLowerCase().startsWith('basic ')
        ? 'basic'
        : typeof params.client_id === 'string'
          ? 'post'
          : 'none',
      at: this.clock(),
      outcome: 'rejected',
      status: 0,
    };
    const presentedId = this.presentedClientId(request.authorization, params);
    if (presentedId !== undefined) record.clientId = presentedId;
    this.records.push(record);

    const faulted = await this.applyFault();
    if (faulted) {
      record.outcome = 'faulted';
      record.status = faulted.kind === 'drop' ? 0 : faulted.status;
      return faulted;
    }
    try {
      const body = await this.grant(params, request);
      record.outcome = 'issued';
      record.status = 200;
      return { kind: 'json', status: 200, headers: { ...NO_STORE }, body };
    } catch (error) {
      if (!(error instanceof OAuthRefusal)) throw error;
      record.status = error.refusal.status;
      return {
        kind: 'json',
        status: error.refusal.status,
        headers: { ...NO_STORE },
        body: { error: error.refusal.error, error_description: error.refusal.description },
      };
    }
  }

  /**
   * Verifies an access token this sandbox issued (signature, expiry, `typ: Bearer`).
   * @throws {SandboxTokenRejection} with a reason safe to show the caller.
   */
  async verifyAccessToken(token: string): Promise<SandboxPrincipal> {
    const payload = await this.verify(token, 'Bearer').catch((error: unknown) => {
      throw new SandboxTokenRejection(
        error instanceof joseErrors.JWTExpired ? 'The access token expired' : 'The access token is not valid',
      );
    });
    if (typeof payload.azp !== 'string' || typeof payload.sub !== 'string') {
      throw new SandboxTokenRejection('The access token is not valid');
    }
    const principal: SandboxPrincipal = {
      clientId: payload.azp,
      subject: payload.sub,
      expiresAt: (payload.exp ?? 0) * 1000,
    };
    if (typeof payload.preferred_username === 'string') principal.username = payload.preferred_username;
    return principal;
  }

  private readParams(body: unknown): Record<string, unknown> {
    return body !== null && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)
      ? (body as Record<string, unknown>)
      : {};
  }

  private presentedClientId(
    authorization: string | undefined,
    params: Record<string, unknown>,
  ): string | undefined {
    try {
      return this.basicCredentials(authorization)?.clientId ?? this.stringParam(params, 'client_id');
    } catch {
      return undefined;
    }
  }

  private async applyFault(): Promise<SandboxTokenReply | undefined> {
    const { mode, delayMs, retryAfterSeconds, status } = this.faults;
    const retryAfter: Record<string, string> =
      retryAfterSeconds > 0 ? { 'Retry-After': String(retryAfterSeconds) } : {};
    switch (mode) {
      case 'none':
        return undefined;
      case 'slow':
        await sleep(delayMs, undefined, { signal: this.shutdown.signal }).catch(() => undefined);
        return undefined;
      case 'unavailable':
        return {
          kind: 'json',
          status: status ?? 503,
          headers: { ...NO_STORE, ...retryAfter },
          body: { error: 'temporarily_unavailable', error_description: 'The token service is unavailable' },
        };
      case 'rate_limited':
        return {
          kind: 'json',
          status: status ?? 429,
          headers: { ...NO_STORE, 'Retry-After': String(Math.max(retryAfterSeconds, 0)) },
          body: { error: 'rate_limited', error_description: 'Too many token requests' },
        };
      case 'malformed':
        return {
          kind: 'json',
          status: status ?? 200,
          headers: { ...NO_STORE },
          body: { token_type: 'Bearer' },
        };
      case 'html':
        return {
          kind: 'text',
          status: status ?? 200,
          headers: { 'Content-Type': 'text/html; charset=utf-8' },
          body: '<!DOCTYPE html><html><body><h1>Maintenance</h1><p>Please try again later.</p></body></html>',
        };
      case 'drop':
        return { kind: 'drop' };
    }
  }

  private async grant(params: Record<string, unknown>, request: SandboxTokenRequest): Promise<object> {
    const grantType = this.stringParam(params, 'grant_type');
    if (!grantType) refuse(400, 'invalid_request', 'Missing form parameter: grant_type');
    if (!['client_credentials', 'password', 'refresh_token'].includes(grantType)) {
      refuse(400, 'unsupported_grant_type', 'Unsupported grant_type');
    }
    const clientId = this.authenticateClient(request.authorization, params);
    switch (grantType) {
      case 'client_credentials':
        return this.issue({ clientId, subject: `service-account-${clientId}` }, request.issuer, false);
      case 'password': {
        const username = this.stringParam(params, 'username');
        const password = this.stringParam(params, 'password');
        if (!username) refuse(401, 'invalid_request', 'Missing parameter: username');
        const expected = Object.hasOwn(this.options.users, username)
          ? this.options.users[username]
          : undefined;
        if (expected === undefined || password === undefined || !sameSecret(expected, password)) {
          refuse(401, 'invalid_grant', 'Invalid user credentials');
        }
        return this.issue({ clientId, subject: username, username }, request.issuer, true);
      }
      default: {
        const refreshToken = this.stringParam(params, 'refresh_token');
        if (!refreshToken) refuse(400, 'invalid_request', 'Missing parameter: refresh_token');
        const payload = await this.verify(refreshToken, 'Refresh').catch(() =>
          refuse(400, 'invalid_grant', 'Invalid refresh token'),
        );
        if (payload.azp !== clientId || typeof payload.sub !== 'string') {
          refuse(400, 'invalid_grant', 'Invalid refresh token');
        }
        const username =
          typeof payload.preferred_username === 'string' ? payload.preferred_username : undefined;
        const session = typeof payload.sid === 'string' ? payload.sid : undefined;
        return this.issue({ clientId, subject: payload.sub, username, session }, request.issuer, true);
      }
    }
  }

  /** Returns the authenticated client id, or refuses the request as Keycloak does. */
  private authenticateClient(authorization: string | undefined, params: Record<string, unknown>): string {
    let credentials: { clientId: string; clientSecret?: string } | undefined;
    try {
      credentials = this.basicCredentials(authorization);
    } catch {
      refuse(400, 'invalid_request', 'Malformed Basic Authorization header');
    }
    const bodyId = this.stringParam(params, 'client_id');
    if (credentials && bodyId !== undefined && bodyId !== credentials.clientId) {
      refuse(400, 'invalid_request', 'client_id in the body does not match the Authorization header');
    }
    credentials ??=
      bodyId === undefined
        ? undefined
        : { clientId: bodyId, clientSecret: this.stringParam(params, 'client_secret') };
    if (!credentials) refuse(400, 'invalid_client', 'Missing client_id parameter');
    const expected = Object.hasOwn(this.options.clients, credentials.clientId)
      ? this.options.clients[credentials.clientId]
      : undefined;
    if (expected === undefined) refuse(401, 'invalid_client', INVALID_CLIENT);
    if (credentials.clientSecret === undefined || !sameSecret(expected, credentials.clientSecret)) {
      refuse(401, 'unauthorized_client', INVALID_CLIENT);
    }
    return credentials.clientId;
  }

  /** RFC 6749 §2.3.1: `Basic base64(form-urlencode(id) ":" form-urlencode(secret))`. Throws when malformed. */
  private basicCredentials(
    authorization: string | undefined,
  ): { clientId: string; clientSecret: string } | undefined {
    const match = /^basic\s+(\S+)\s*$/i.exec(authorization?.trim() ?? '');
    if (!match?.[1]) {
      if (authorization?.trim().toLowerCase().startsWith('basic')) throw new Error('malformed');
      return undefined;
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(match[1])) throw new Error('malformed');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new Error('malformed');
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  }

  private stringParam(params: Record<string, unknown>, name: string): string | undefined {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (Array.isArray(value)) refuse(400, 'invalid_request', `Duplicate parameter: ${name}`);
    return typeof value === 'string' && value !== '' ? value : undefined;
  }

  private async issue(
    who: { clientId: string; subject: string; username?: string; session?: string },
    issuer: string,
    withRefreshToken: boolean,
  ): Promise<object> {
    const now = Math.floor(this.clock() / 1000);
    const tokenLifetime = this.lifetimes.tokenLifetimeSeconds ?? this.options.tokenLifetimeSeconds;
    const refreshLifetime = this.lifetimes.refreshLifetimeSeconds ?? this.options.refreshLifetimeSeconds;
    const session = who.session ?? randomUUID();
    const claims: JWTPayload = { typ: 'Bearer', azp: who.clientId, sid: session, scope: SCOPE };
    if (who.username !== undefined) claims.preferred_username = who.username;

    const accessToken = await this.sign(claims, who.subject, issuer, now, tokenLifetime);
    const response: Record<string, unknown> = {
      access_token: accessToken,
      expires_in: tokenLifetime,
      refresh_expires_in: withRefreshToken ? refreshLifetime : 0,
    };
    if (withRefreshToken) {
      response.refresh_token = await this.sign(
        { ...claims, typ: 'Refresh' },
        who.subject,
        issuer,
        now,
        refreshLifetime,
      );
    }
    return {
      ...response,
      token_type: 'Bearer',
      'not-before-policy': 0,
      session_state: session,
      scope: SCOPE,
    };
  }

  private sign(
    claims: JWTPayload,
    subject: string,
    issuer: string,
    now: number,
    lifetime: number,
  ): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(subject)
      .setIssuer(issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(this.key);
  }

  private async verify(token: string, typ: 'Bearer' | 'Refresh'): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.key, {
      algorithms: ['HS256'],
      currentDate: new Date(this.clock()),
      requiredClaims: ['exp', 'azp', 'sub'],
    });
    if (payload.typ !== typ) throw new SandboxTokenRejection(`not a ${typ} token`);
    return payload;
  }
}
