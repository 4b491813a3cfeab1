import { Inject, Injectable } from '@nestjs/common';
import { parseAuthorization } from '../auth/authorization-header.parser.js';
import { V3RevocationClient } from '../issuer/v3-revocation.client.js';
import { V3TokenClient } from '../issuer/v3-token.client.js';
import { V3InvalidTokenException } from '../jwt/v3-invalid-token.exception.js';
import { looksLikeJwt, V3JwtVerifier } from '../jwt/v3-jwt.verifier.js';
import type { ResolvedV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import { TokenStore } from '../store/token-store.interface.js';
import { V3_TOKEN_AUTH_RESOLVED_OPTIONS } from '../v3-token.constants.js';
import {
  V3InvalidCredentialsException,
  V3IssuerUnavailableException,
  V3RequestRefusedException,
  V3UnauthorizedException,
} from '../v3-token.exceptions.js';
import type {
  V3AuthenticateOptions,
  V3Credentials,
  V3Principal,
  V3RevocationOptions,
  V3RevocationOutcome,
  V3TokenRequest,
  V3TokenResponse,
} from '../v3-token.interfaces.js';
import { systemClock, type V3Clock } from './clock.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { GrantCoordinator } from './grant.coordinator.js';
import { GrantGate } from './grant.gate.js';
import { LocalTokenCache } from './local-token.cache.js';
import { RefreshTokenOwners } from './refresh-token.owners.js';
import { RefreshScheduler } from './refresh.scheduler.js';
import { TieredTokenCache } from './tiered-token.cache.js';
import { meantFor } from './token-audience.js';
import { TokenFingerprinter } from './token-fingerprint.js';
import { TokenLifetime } from './token-lifetime.js';
import { TokenTombstones } from './token-tombstones.js';
import { TokenEvictor } from './token.evictor.js';
import { parseTokenRequest } from './token-request.parser.js';
import { toCachedToken, toV3TokenResponse } from './token-response.mapper.js';
import { normalizeScope } from './token-scope.js';
import type { TokenSlot } from './token-slot.js';

/** The scope and resource one authentication asks for, normalised, and the header-memo variant they make. */
interface RequestedIdentity {
  scope: string | undefined;
  resource: string | undefined;
  /** '' for the module's defaults, so the hot path hashes the header alone. */
  variant: string;
}

/** Health of the module's dependencies, as `V3TokenService.health()` reports it. */
export interface V3TokenAuthHealth {
  /** `memory`: no shared store configured; `up`/`down`: the shared store's connection. */
  store: 'memory' | 'up' | 'down';
  /** The token endpoint's circuit breaker. */
  issuer: 'closed' | 'open' | 'half_open';
}

/**
 * Turns credentials into access tokens. The request path: header → identity (client, user, scopes, resource) →
 * in-process cache → shared store → one grant (in this process and across instances) → principal. A wrong secret
 * never gets a cached token; a token past its refresh point is renewed in the background.
 */
@Injectable()
export class V3TokenService {
  private readonly clock: V3Clock;
  private readonly store: FailSoftTokenStore;
  private readonly local: LocalTokenCache;
  private readonly cache: TieredTokenCache;
  private readonly gate: GrantGate;
  private readonly grants: GrantCoordinator;
  private readonly refresher: RefreshScheduler;
  private readonly refreshOwners: RefreshTokenOwners;
  private readonly tombstones: TokenTombstones;
  private readonly evictor: TokenEvictor;
  /** Passes revocations on to the issuer; set only with the `revocationUrl` option. */
  private readonly revocation: V3RevocationClient | undefined;
  private readonly defaultIdentity: RequestedIdentity;
  /** Verifies issuer-minted Bearer JWTs; set only with the `jwt` option. */
  private readonly jwt: V3JwtVerifier | undefined;

  constructor(
    @Inject(V3_TOKEN_AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedV3TokenAuthOptions,
    @Inject(TokenStore) tokenStore: TokenStore,
    private readonly client: V3TokenClient,
    private readonly fingerprinter: TokenFingerprinter,
  ) {
    const observer = options.observer ?? {};
    this.clock = options.clock ?? systemClock;
    this.store = new FailSoftTokenStore(tokenStore, observer);
    this.local = new LocalTokenCache(options.memoryCacheMaxEntries, options.memoryCache, this.clock);
    this.gate = new GrantGate(options, fingerprinter, observer, this.clock, this.store);
    const lifetime = new TokenLifetime(options.expirySkewSeconds * 1000, options.refreshAheadRatio);
    this.tombstones = new TokenTombstones(options.memoryCacheMaxEntries, this.clock, this.store);
    this.evictor = new TokenEvictor(this.local, this.store, this.tombstones, fingerprinter, this.clock);
    this.refreshOwners = new RefreshTokenOwners(this.store, fingerprinter, this.clock);
    this.evictor.listen();
    this.cache = new TieredTokenCache(
      this.local,
      this.store,
      fingerprinter,
      lifetime,
      this.clock,
      this.tombstones,
      options.memoryCacheMaxEntries,
    );
    this.grants = new GrantCoordinator(options, this.cache, this.store, this.gate, client, observer);
    this.refresher = new RefreshScheduler(options, this.cache, this.store, client, observer, this.clock);
    this.defaultIdentity = { scope: normalizeScope(options.scope), resource: undefined, variant: '' };
    this.jwt = options.jwt ? new V3JwtVerifier(options.jwt, () => this.clock.now()) : undefined;
    this.revocation = options.revocationUrl
      ? new V3RevocationClient({
          revocationUrl: options.revocationUrl,
          clientAuthMethod: options.clientAuthMethod,
          timeoutMs: options.timeoutMs,
        })
      : undefined;
  }

  /**
   * The principal of an exact Authorization header value that was verified before and whose token is still fresh,
   * without any I/O; `undefined` otherwise. The hot path of the guard: one hash, no allocation on a hit.
   */
  peek(authorization: string, request?: V3AuthenticateOptions): V3Principal | undefined {
    if (!this.local.enabled) return undefined;
    const identity = this.requestedIdentity(request);
    return this.peekHeader(
      this.fingerprinter.headerKey(authorization, identity.variant),
      authorization,
      identity,
    );
  }

  /**
   * Authenticates an `Authorization` header: `Basic` credentials (granting or reusing a token for the requested
   * scopes and resource), a `Bearer` token this module handed out or, with the `jwt` option, a `Bearer` JWT the issuer
   * minted (verified locally; its claims give the principal and its scopes). Throws a `V3TokenException` (401, 400,
   * 429, 503, 502).
   * @example await tokens.authenticate('Basic ' + base64('id:secret'), { scope: 'read', resource: 'https://api' })
   */
  async authenticate(
    authorization: string | string[] | undefined,
    request?: V3AuthenticateOptions,
  ): Promise<V3Principal> {
    const identity = this.requestedIdentity(request);
    const headerKey =
      typeof authorization === 'string' && authorization.length <= this.options.maxHeaderBytes
        ? this.fingerprinter.headerKey(authorization, identity.variant)
        : undefined;
    if (headerKey !== undefined) {
      const header = authorization as string;
      const known = this.peekHeader(headerKey, header, identity);
      if (known) return known;
      const memo = this.local.headerMemo(headerKey);
      if (memo?.basic) {
        const slot = await this.resolve(
          memo.slotKey,
          memo.verifier,
          () => this.credentialsOfHeader(header, identity),
          request?.callerAddress,
        );
        this.local.memoHeader(headerKey, slot, memo.verifier, true);
        return slot.principal;
      }
    }
    const parsed = parseAuthorization(authorization, this.options.maxHeaderBytes);
    if (parsed.scheme === 'bearer') {
      if (this.jwt && looksLikeJwt(parsed.token)) {
        return meantFor(await this.verifyJwt(this.jwt, parsed.token), identity.resource);
      }
      const slot = await this.resolveBearer(parsed.token);
      meantFor(slot.principal, identity.resource);
      if (headerKey !== undefined) this.local.memoHeader(headerKey, slot, slot.token.verifier, false);
      return slot.principal;
    }
    const credentials = this.credentialsOfBasic(parsed.id, parsed.secret, identity);
    const key = this.fingerprinter.credentialsKey(credentials);
    const verifier = this.fingerprinter.verifier(key, credentials);
    const slot = await this.resolve(key, verifier, () => credentials, request?.callerAddress);
    if (headerKey !== undefined) this.local.memoHeader(headerKey, slot, verifier, true);
    return slot.principal;
  }

  /**
   * Resolves credentials (with their `scope` and `resource`) to a principal, granting only when no fresh token
   * matches; `callerAddress` is counted by the wrong-secret throttle.
   */
  async authenticateCredentials(credentials: V3Credentials, callerAddress?: string): Promise<V3Principal> {
    return (await this.resolveCredentials(credentials, callerAddress)).principal;
  }

  /**
   * The cached token endpoint: answers a `V3TokenRequest` with a `V3TokenResponse` whose `expires_in` is the token's
   * remaining lifetime. `refresh_token` grants go to the issuer (through the same wrong-secret gate as every grant)
   * and the new token is remembered for Bearer use. `options.callerAddress` is the caller's address, as for
   * `authenticate`.
   */
  async issueToken(
    request: V3TokenRequest,
    options?: Pick<V3AuthenticateOptions, 'callerAddress'>,
  ): Promise<V3TokenResponse> {
    const parsed = parseTokenRequest(request, this.options);
    const callerAddress = options?.callerAddress;
    if (parsed.kind === 'refresh') {
      const { grant } = parsed;
      // The refresh token is the credential presented: a bad one is a wrong secret (counted, throttled), and the
      // client's own secret, known-good from its other grants, exempts no refresh that carries someone else's guess.
      const attempt = this.gate.attemptOf({
        clientId: grant.clientId,
        clientSecret: grant.clientSecret,
        refreshToken: grant.refreshToken,
        callerAddress,
      });
      const refreshed = this.gate
        .pass(attempt, grant.clientId, () => this.client.requestToken(grant))
        .catch((error: unknown) => {
          // Counted as a wrong secret, but answered as the token endpoint answers it: 400 (RFC 6749 §5.2).
          if (error instanceof V3InvalidCredentialsException && error.oauthError === 'invalid_grant')
            throw new V3RequestRefusedException(error.issuerStatus, 'invalid_grant', error.errorDescription);
          throw error;
        });
      // The user whose refresh token it is, when this module handed it out, read while the issuer answers: the new
      // token is theirs too. A store that cannot be read leaves it without a user, so no user can revoke it through
      // the module (the fail-closed side), and the refresh still works.
      const [response, { owner }] = await Promise.all([
        refreshed,
        this.refreshOwners.ownerOf(grant.refreshToken!),
      ]);
      const username = owner?.clientId === grant.clientId ? owner.username : undefined;
      const token = toCachedToken(response, { ...grant, username }, '');
      await Promise.all([this.cache.saveBearer(token, attempt.secretTag), this.refreshOwners.record(token)]);
      return toV3TokenResponse(token, this.clock.now());
    }
    const slot = await this.resolveCredentials(parsed.credentials, callerAddress);
    await this.refreshOwners.record(slot.token);
    return toV3TokenResponse(slot.token, this.clock.now());
  }

  /**
   * Evicts an access token (e.g. one a downstream refused) from every tier — header memo, in-process layer, store,
   * bearer entry — on every instance sharing the store, and tombstones it (by its keyed hash) for the rest of its
   * life, so no read or grant in flight brings it back and no path hands it out again. Tokens granted since stay.
   * @example await tokens.invalidate(request.user.accessToken)
   */
  async invalidate(token: string | V3Principal): Promise<void> {
    if (typeof token === 'string') await this.evictor.evict(token, this.jwt?.verifiedExpiry(token));
    else await this.evictor.evict(token.accessToken, token.expiresAt);
  }

  /**
   * A downstream refused `accessToken`, relayed for the caller's `authorization`: opens the re-grant window
   * (`reauthCooldownMs`) of the credentials it was granted to, on every instance sharing the store, and evicts it
   * everywhere (see `invalidate`). The credentials are those of a Basic `authorization` (for `request`'s scope and
   * resource), else those this cache granted the token to (a Bearer caller's `POST /token` or refresh grant). In the
   * window they get one new grant; a later one is answered 401 `invalid_token` (`V3ReauthCooldownException`) without
   * calling the issuer. A request whose token is still cached always passes, and a wrong secret for the same client
   * id meets no window. For a Basic caller the window's write is sent before the eviction starts.
   * @example await tokens.refused(request.user.accessToken, request.headers.authorization, { scope: 'orders:read' })
   */
  async refused(
    accessToken: string,
    authorization: string | string[] | undefined,
    request?: V3AuthenticateOptions,
  ): Promise<void> {
    const credentials =
      typeof authorization === 'string'
        ? this.credentialsOfHeader(authorization, this.requestedIdentity(request))
        : undefined;
    const tag =
      credentials === undefined
        ? await this.cache.grantTagOf(accessToken)
        : TokenFingerprinter.exemptionTag(
            this.fingerprinter.verifier(this.fingerprinter.credentialsKey(credentials), credentials),
          );
    await Promise.all([
      tag && this.gate.refusedDownstream(tag),
      this.evictor.evict(accessToken, this.jwt?.verifiedExpiry(accessToken)),
    ]);
  }

  /**
   * Revocation (RFC 7009) on behalf of an authenticated client: `client`'s secret is proven as for a grant (a fresh
   * cached token of that secret is proof enough; otherwise a grant, through the same throttle), then the token, when
   * this cache handed it out to that client, is evicted everywhere (see `invalidate`), and the revocation is passed
   * on to `revocationUrl` when set. Another client's token is left alone (`not_owned`), and an unknown one is only
   * passed on (`unknown`): RFC 7009 answers 200 to both. With the password grant every user's tokens belong to the
   * module's own client, whose credentials revoke them at the issuer, so a token it does not hold is passed on only
   * when it is a refresh token it handed out to this user; any other is `not_owned`.
   * @throws V3UnauthorizedException (401) when the client does not prove its secret; 429/503 as for grants.
   * @example await tokens.revoke(token, { clientId: 'svc', clientSecret }, { tokenTypeHint: 'access_token' })
   */
  async revoke(
    token: string,
    client: { clientId: string; clientSecret: string },
    options: V3RevocationOptions = {},
  ): Promise<V3RevocationOutcome> {
    const credentials = this.credentialsOfBasic(client.clientId, client.clientSecret, this.defaultIdentity);
    const proof = await this.resolveCredentials(credentials, options.callerAddress);
    const held = await this.cache.bearer(token);
    const ownedBy = (owner: { clientId: string; username?: string }): boolean =>
      owner.clientId === proof.token.clientId && owner.username === proof.token.username;
    let outcome: V3RevocationOutcome = 'unknown';
    if (held !== undefined) {
      if (!ownedBy(held.token)) return 'not_owned';
      await this.evictor.evict(token);
      outcome = 'evicted';
    } else if (credentials.username !== undefined) {
      const { owner, readable } = await this.refreshOwners.ownerOf(token);
      if (!readable)
        throw new V3IssuerUnavailableException(
          'The token store cannot be read to tell whose token this is; retry',
          1,
        );
      if (owner === undefined || !ownedBy(owner)) return 'not_owned';
      await this.refreshOwners.forget(token);
    }
    await this.revocation?.revoke({
      token,
      tokenTypeHint: options.tokenTypeHint,
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret ?? '',
    });
    return outcome;
  }

  /**
   * State of the dependencies, asked now: the shared store must answer a ping within `timeoutMs` (a hung Redis is
   * `down`); `memory` when no shared store is configured. For health endpoints.
   */
  async checkHealth(timeoutMs = 500): Promise<V3TokenAuthHealth> {
    const current = this.health();
    if (current.store !== 'up' || this.store.store.ping === undefined) return current;
    return { ...current, store: (await this.store.store.ping(timeoutMs)) ? 'up' : 'down' };
  }

  /** State of the dependencies from the connection state alone, without I/O. */
  health(): V3TokenAuthHealth {
    const shared = this.options.store !== undefined || this.options.redis !== undefined;
    return {
      store: shared ? (this.store.store.isHealthy() ? 'up' : 'down') : 'memory',
      issuer: this.client.breakerState,
    };
  }

  private requestedIdentity(request: V3AuthenticateOptions | undefined): RequestedIdentity {
    if (request === undefined || (request.scope === undefined && request.resource === undefined)) {
      return this.defaultIdentity;
    }
    const scope = request.scope === undefined ? this.defaultIdentity.scope : normalizeScope(request.scope);
    const resource = request.resource === '' ? undefined : request.resource;
    return { scope, resource, variant: `${scope ?? ''}\u0000${resource ?? ''}` };
  }

  private peekHeader(
    headerKey: string,
    authorization: string,
    identity: RequestedIdentity,
  ): V3Principal | undefined {
    const slot = this.local.slotOfHeader(headerKey);
    if (slot === undefined || this.clock.now() >= slot.freshUntil) return undefined;
    this.refresher.refreshIfDue(slot, () => this.credentialsOfHeader(authorization, identity));
    this.options.observer?.cacheHit?.('memory');
    return slot.principal;
  }

  private resolveCredentials(credentials: V3Credentials, callerAddress?: string): Promise<TokenSlot> {
    const key = this.fingerprinter.credentialsKey(credentials);
    return this.resolve(key, this.fingerprinter.verifier(key, credentials), () => credentials, callerAddress);
  }

  /**
   * The token of the identity behind `key`, for the secret behind `verifier` (see `lookUp`), never one evicted
   * meanwhile: a token tombstoned while it was being read or granted is looked up once more (a fresh grant).
   */
  private async resolve(
    key: string,
    verifier: string,
    credentialsOf: () => V3Credentials | undefined,
    callerAddress?: string,
  ): Promise<TokenSlot> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const slot = await this.lookUp(key, verifier, credentialsOf, callerAddress);
      if (!this.tombstones.knows(slot.bearerKey)) return slot;
    }
    throw new V3IssuerUnavailableException('The token was revoked while it was being issued; retry', 1);
  }

  /**
   * The in-process layer, then the store, then one grant. `credentialsOf` gives the credentials only when a grant or
   * a renewal needs them (a header is parsed again only then).
   */
  private async lookUp(
    key: string,
    verifier: string,
    credentialsOf: () => V3Credentials | undefined,
    callerAddress?: string,
  ): Promise<TokenSlot> {
    const observer = this.options.observer;

    const local = this.cache.freshLocal(key, verifier);
    if (local) {
      observer?.cacheHit?.('memory');
      this.refresher.refreshIfDue(local, credentialsOf);
      return local;
    }
    const stored = await this.cache.freshStored(key, verifier);
    if (stored) {
      observer?.cacheHit?.('store');
      const slot = this.cache.hold(key, stored);
      this.refresher.refreshIfDue(slot, credentialsOf);
      return slot;
    }
    observer?.cacheMiss?.();
    const credentials = credentialsOf();
    if (credentials === undefined)
      throw new V3UnauthorizedException('Authentication failed', 'invalid_client');
    return this.grants.grant(key, verifier, credentials, callerAddress);
  }

  /**
   * An issuer JWT, verified against the JWKS and never one evicted (revoked, or refused by a downstream) on any
   * instance; else a token this module handed out, which the JWKS need not vouch for (an unreachable JWKS included).
   */
  private async verifyJwt(verifier: V3JwtVerifier, token: string): Promise<V3Principal> {
    let principal: V3Principal;
    try {
      principal = await verifier.verify(token);
    } catch (error) {
      if (!(error instanceof V3InvalidTokenException || error instanceof V3IssuerUnavailableException))
        throw error;
      const slot = await this.cache.bearer(token);
      if (slot === undefined) throw error;
      this.options.observer?.cacheHit?.('bearer');
      return slot.principal;
    }
    const bearerKey = this.cache.bearerKeyOf(token, principal.expiresAt);
    if (!(await this.tombstones.clearedOnce(bearerKey, principal.expiresAt)))
      throw new V3UnauthorizedException(
        'Bearer token was revoked: get a new one from POST /token',
        'invalid_token',
      );
    return principal;
  }

  private async resolveBearer(accessToken: string): Promise<TokenSlot> {
    const slot = await this.cache.bearer(accessToken);
    if (slot === undefined) {
      throw new V3UnauthorizedException(
        'Bearer token is unknown or expired: get one from POST /token',
        'invalid_token',
      );
    }
    this.options.observer?.cacheHit?.('bearer');
    return slot;
  }

  private credentialsOfBasic(id: string, secret: string, identity: RequestedIdentity): V3Credentials {
    const { scope, resource } = identity;
    if (this.options.grantType === 'password') {
      return {
        grantType: 'password',
        clientId: this.options.clientId as string,
        clientSecret: this.options.clientSecret,
        username: id,
        password: secret,
        scope,
        resource,
      };
    }
    return { grantType: 'client_credentials', clientId: id, clientSecret: secret, scope, resource };
  }

  private credentialsOfHeader(authorization: string, identity: RequestedIdentity): V3Credentials | undefined {
    try {
      const parsed = parseAuthorization(authorization, this.options.maxHeaderBytes);
      return parsed.scheme === 'basic'
        ? this.credentialsOfBasic(parsed.id, parsed.secret, identity)
        : undefined;
    } catch {
      return undefined;
    }
  }
}
