import { Inject, Injectable } from '@nestjs/common';
import { parseAuthorization } from '../auth/authorization-header.parser.js';
import { BoundedTtlCache } from '../store/memory/memory-token.store.js';
import { TokenFingerprinter } from './token-fingerprint.js';
import { TokenStore, type CachedToken, type TokenLock } from '../store/token-store.interface.js';
import type { ResolvedV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import { V3TokenClient, type V3GrantRequest } from '../issuer/v3-token.client.js';
import { V3_TOKEN_AUTH_RESOLVED_OPTIONS } from '../v3-token.constants.js';
import {
  V3BadRequestException,
  V3InvalidCredentialsException,
  V3TooManyAttemptsException,
  V3UnauthorizedException,
} from '../v3-token.exceptions.js';
import type {
  V3Credentials,
  V3Principal,
  V3TokenRequest,
  V3TokenRequestResponse,
  V3TokenResponse,
} from '../v3-token.interfaces.js';

/** A token held in process, with the principal built from it once. */
interface Slot {
  key: string;
  token: CachedToken;
  principal: V3Principal;
  /** Epoch ms after which the token no longer counts (expiry less skew; bearer entries: expiry). */
  freshUntil: number;
  /** Epoch ms after which a hit renews the token in the background. */
  refreshAt: number;
}

/**
 * What an exact Authorization header value was verified against: its slot's key and the verifier of its secret.
 * For `Basic` both derive from the header alone, so they also spare a store hit the two HMACs.
 */
interface HeaderEntry {
  slotKey: string;
  verifier: string;
  basic: boolean;
  /** Epoch ms until which the entry is kept: its slot's `freshUntil`. */
  until: number;
}

interface FailureWindow {
  count: number;
  resetAt: number;
}

type LockOutcome = { lock: TokenLock } | { slot: Slot } | { lock: undefined };

const MAX_FIELD_LENGTH = 4096;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Turns credentials into access tokens: in-process cache, then the shared store, then one grant at a time per
 * client (in this process and, through a store lock, across instances). A wrong secret never gets a cached token.
 */
@Injectable()
export class V3TokenService {
  private readonly headers: BoundedTtlCache<HeaderEntry>;
  private readonly slots: BoundedTtlCache<Slot>;
  private readonly refused: BoundedTtlCache<V3InvalidCredentialsException>;
  private readonly failures: BoundedTtlCache<FailureWindow>;
  private readonly lastGood: BoundedTtlCache<string>;
  private readonly inflight = new Map<string, Promise<Slot>>();
  private readonly refreshing = new Set<string>();
  private readonly principalKeys = new WeakMap<V3Principal, string>();
  private readonly observer: V3TokenAuthObserver;
  private readonly skewMs: number;

  constructor(
    @Inject(V3_TOKEN_AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedV3TokenAuthOptions,
    @Inject(TokenStore) private readonly store: TokenStore,
    private readonly client: V3TokenClient,
    private readonly fingerprinter: TokenFingerprinter,
  ) {
    const max = options.memoryCacheMaxEntries;
    this.headers = new BoundedTtlCache<HeaderEntry>({ maxEntries: max });
    this.slots = new BoundedTtlCache<Slot>({ maxEntries: max });
    this.refused = new BoundedTtlCache<V3InvalidCredentialsException>({ maxEntries: max });
    this.failures = new BoundedTtlCache<FailureWindow>({ maxEntries: max });
    this.lastGood = new BoundedTtlCache<string>({ maxEntries: max });
    this.observer = options.observer ?? {};
    this.skewMs = options.expirySkewSeconds * 1000;
  }

  /**
   * The principal of an exact Authorization header value that was verified before and whose token is still fresh,
   * without any I/O; `undefined` otherwise. The hot path of the guard.
   */
  peek(authorization: string): V3Principal | undefined {
    if (!this.options.memoryCache) return undefined;
    return this.peekHeader(this.fingerprinter.headerKey(authorization), authorization);
  }

  private peekHeader(headerKey: string, authorization: string): V3Principal | undefined {
    const entry = this.headers.get(headerKey);
    if (entry === undefined) return undefined;
    const slot = this.slots.get(entry.slotKey);
    if (slot === undefined || slot.token.verifier !== entry.verifier) return undefined;
    const now = Date.now();
    if (now >= slot.freshUntil) return undefined;
    if (now >= slot.refreshAt) this.refreshAhead(slot, () => this.credentialsFromHeader(authorization));
    this.observer.cacheHit?.('memory');
    return slot.principal;
  }

  /**
   * Authenticates an `Authorization` header: `Basic` credentials (granting or reusing a token) or a `Bearer` token
   * this module handed out. Throws a `V3TokenException` (401, 400, 429, 503, 502).
   */
  async authenticate(authorization: string | string[] | undefined): Promise<V3Principal> {
    const headerKey =
      typeof authorization === 'string' && authorization.length <= this.options.maxHeaderBytes
        ? this.fingerprinter.headerKey(authorization)
        : undefined;
    if (headerKey !== undefined) {
      const header = authorization as string;
      const known = this.options.memoryCache ? this.peekHeader(headerKey, header) : undefined;
      if (known) return known;
      const entry = this.headers.get(headerKey);
      if (entry?.basic) {
        const slot = await this.resolveKeys(entry.slotKey, entry.verifier, () =>
          this.credentialsFromHeader(header),
        );
        this.rememberHeader(headerKey, slot, true);
        return slot.principal;
      }
    }
    const parsed = parseAuthorization(authorization, this.options.maxHeaderBytes);
    if (parsed.scheme === 'bearer') {
      const slot = await this.resolveBearer(parsed.token);
      if (headerKey !== undefined) this.rememberHeader(headerKey, slot, false);
      return slot.principal;
    }
    const credentials = this.credentialsFromBasic(parsed.id, parsed.secret);
    const slot = await this.resolve(credentials, () => credentials);
    if (headerKey !== undefined) this.rememberHeader(headerKey, slot, true);
    return slot.principal;
  }

  /** Resolves credentials to a principal, granting only when no fresh cached token matches them. */
  async authenticateCredentials(credentials: V3Credentials): Promise<V3Principal> {
    return (await this.resolve(credentials, () => credentials)).principal;
  }

  /**
   * The cached token endpoint: answers a `V3TokenRequest` with a `V3TokenResponse` whose `expires_in` is the token's
   * remaining lifetime. `refresh_token` grants go to the issuer and the new token is remembered for Bearer use.
   */
  async issueToken(request: V3TokenRequest): Promise<V3TokenResponse> {
    const field = (name: keyof V3TokenRequest, required: boolean): string | undefined => {
      const value = request[name];
      if (value === undefined || value === null || value === '') {
        if (required)
          throw new V3BadRequestException(`${name} is required for grant_type ${request.grant_type}`);
        return undefined;
      }
      if (typeof value !== 'string' || value.length > MAX_FIELD_LENGTH || CONTROL.test(value)) {
        throw new V3BadRequestException(
          `${name} must be a string of printable characters up to ${MAX_FIELD_LENGTH} long`,
        );
      }
      return value;
    };
    const grantType = field('grant_type', true);
    const scope = field('scope', false) ?? this.options.scope;
    let credentials: V3Credentials;
    switch (grantType) {
      case 'client_credentials':
        credentials = {
          grantType,
          clientId: field('client_id', true) as string,
          clientSecret: field('client_secret', true),
          scope,
        };
        break;
      case 'password': {
        const clientId = field('client_id', false);
        credentials = {
          grantType,
          clientId: clientId ?? this.ownClientId(),
          clientSecret: clientId ? field('client_secret', false) : this.options.clientSecret,
          username: field('username', true),
          password: field('password', true),
          scope,
        };
        break;
      }
      case 'refresh_token':
        return this.toResponse(
          (
            await this.refreshGrant({
              grantType,
              clientId: field('client_id', false) ?? this.ownClientId(),
              clientSecret: field('client_id', false)
                ? field('client_secret', false)
                : this.options.clientSecret,
              refreshToken: field('refresh_token', true),
              scope,
            })
          ).token,
        );
      default:
        throw new V3BadRequestException(
          'grant_type must be client_credentials, password or refresh_token',
          'unsupported_grant_type',
        );
    }
    return this.toResponse((await this.resolve(credentials, () => credentials)).token);
  }

  /**
   * A downstream refused `principal`'s token: forget it, but only while the cache still holds that very token
   * (a newer one granted meanwhile stays).
   */
  async invalidate(principal: V3Principal): Promise<void> {
    const bearerKey = this.fingerprinter.bearerKey(principal.accessToken);
    const keys = [this.principalKeys.get(principal), bearerKey].filter(
      (key): key is string => key !== undefined,
    );
    for (const key of keys) {
      const local = this.slots.get(key);
      if (local?.token.accessToken === principal.accessToken) this.slots.delete(key);
      await this.safely('delete', () => this.store.delete(key, principal.accessToken));
    }
  }

  /** State of the dependencies, for health checks. */
  health(): { store: 'memory' | 'up' | 'down'; issuer: 'closed' | 'open' | 'half_open' } {
    const shared = this.options.store !== undefined || this.options.redis !== undefined;
    return {
      store: shared ? (this.store.isHealthy() ? 'up' : 'down') : 'memory',
      issuer: this.client.breakerState,
    };
  }

  private ownClientId(): string {
    if (!this.options.clientId) {
      throw new V3BadRequestException(
        'client_id is required: this gateway has no client of its own',
        'invalid_client',
      );
    }
    return this.options.clientId;
  }

  private credentialsFromBasic(id: string, secret: string): V3Credentials {
    if (this.options.grantType === 'password') {
      return {
        grantType: 'password',
        clientId: this.options.clientId as string,
        clientSecret: this.options.clientSecret,
        username: id,
        password: secret,
        scope: this.options.scope,
      };
    }
    return { grantType: 'client_credentials', clientId: id, clientSecret: secret, scope: this.options.scope };
  }

  private credentialsFromHeader(authorization: string): V3Credentials | undefined {
    try {
      const parsed = parseAuthorization(authorization, this.options.maxHeaderBytes);
      return parsed.scheme === 'basic' ? this.credentialsFromBasic(parsed.id, parsed.secret) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Remembers what a header value was verified against: for the in-process hot path (when the memory layer holds
   * its slot), and for `Basic` also to derive its keys without HMACs on later store hits. Holds no token. An entry
   * that already says the same is left alone: a new object stored in a long-lived map on every store hit would
   * survive the young generation and keep the old one collecting.
   */
  private rememberHeader(headerKey: string, slot: Slot, basic: boolean): void {
    const inMemory = this.options.memoryCache && this.slots.get(slot.key) === slot;
    if (!inMemory && !basic) return;
    const known = this.headers.get(headerKey);
    if (
      known?.slotKey === slot.key &&
      known.verifier === slot.token.verifier &&
      known.basic === basic &&
      known.until === slot.freshUntil
    ) {
      return;
    }
    const entry = { slotKey: slot.key, verifier: slot.token.verifier, basic, until: slot.freshUntil };
    this.headers.set(headerKey, entry, slot.freshUntil);
  }

  private resolve(credentials: V3Credentials, renewWith: () => V3Credentials | undefined): Promise<Slot> {
    const key = this.fingerprinter.credentialsKey(credentials);
    return this.resolveKeys(key, this.fingerprinter.verifier(key, credentials), renewWith);
  }

  /**
   * Resolves the credentials behind `key` and `verifier`; `credentialsOf` gives them when a grant or a renewal needs
   * them (a header is parsed again only then).
   */
  private async resolveKeys(
    key: string,
    verifier: string,
    credentialsOf: () => V3Credentials | undefined,
  ): Promise<Slot> {
    const refused = this.refused.get(verifier);
    if (refused) throw refused;

    const now = Date.now();
    const local = this.options.memoryCache ? this.slots.get(key) : undefined;
    if (local && now < local.freshUntil && TokenFingerprinter.sameVerifier(local.token.verifier, verifier)) {
      this.observer.cacheHit?.('memory');
      if (now >= local.refreshAt) this.refreshAhead(local, credentialsOf);
      return local;
    }
    const stored = await this.readFresh(key, verifier);
    if (stored) {
      this.observer.cacheHit?.('store');
      const slot = this.keep(key, stored);
      if (Date.now() >= slot.refreshAt) this.refreshAhead(slot, credentialsOf);
      return slot;
    }
    this.observer.cacheMiss?.();
    const credentials = credentialsOf();
    if (credentials === undefined)
      throw new V3UnauthorizedException('Authentication failed', 'invalid_client');
    this.checkThrottle(key, verifier, credentials.clientId);

    const pending = this.inflight.get(verifier);
    if (pending) {
      this.observer.singleFlightWait?.();
      return pending;
    }
    const flight = this.grantOnce(key, verifier, credentials).finally(() => this.inflight.delete(verifier));
    this.inflight.set(verifier, flight);
    return flight;
  }

  private async resolveBearer(accessToken: string): Promise<Slot> {
    const key = this.fingerprinter.bearerKey(accessToken);
    const now = Date.now();
    const local = this.options.memoryCache ? this.slots.get(key) : undefined;
    if (local && now < local.freshUntil && local.token.accessToken === accessToken) {
      this.observer.cacheHit?.('bearer');
      return local;
    }
    const stored = await this.safely('get', () => this.store.get(key));
    if (stored && stored.accessToken === accessToken && now < stored.expiresAt) {
      this.observer.cacheHit?.('bearer');
      return this.keep(key, stored, stored.expiresAt);
    }
    throw new V3UnauthorizedException(
      'Bearer token is unknown or expired: get one from POST /token',
      'invalid_token',
    );
  }

  /** The stored entry for `key` if it is fresh and was obtained with the same secret. */
  private async readFresh(key: string, verifier: string): Promise<CachedToken | undefined> {
    let stored: CachedToken | undefined;
    try {
      stored = await this.store.get(key);
    } catch (error) {
      this.storeFailed('get', error);
      return undefined;
    }
    if (!stored || Date.now() >= stored.expiresAt - this.skewMs) return undefined;
    return TokenFingerprinter.sameVerifier(stored.verifier, verifier) ? stored : undefined;
  }

  private checkThrottle(key: string, verifier: string, clientId: string): void {
    const window = this.failures.get(key);
    if (!window || window.count < this.options.maxFailedAttempts) return;
    if (this.lastGood.get(key) === verifier) return;
    this.observer.throttled?.(clientId);
    throw new V3TooManyAttemptsException((window.resetAt - Date.now()) / 1000);
  }

  /**
   * The throttle as every instance sharing the store counts it (when the store keeps shared counts): asked only
   * before a grant, never on a cache hit.
   */
  private async checkSharedThrottle(key: string, verifier: string, clientId: string): Promise<void> {
    if (this.store.throttleState === undefined || this.lastGood.get(key) === verifier) return;
    const state = await this.safely('throttleState', () => this.store.throttleState!(key));
    if (state === undefined || state.failures < this.options.maxFailedAttempts) return;
    const tag = TokenFingerprinter.exemptionTag(verifier);
    if (state.good !== undefined && TokenFingerprinter.sameVerifier(state.good, tag)) return;
    this.observer.throttled?.(clientId);
    throw new V3TooManyAttemptsException(state.resetInMs / 1000);
  }

  private async countFailure(key: string): Promise<void> {
    const now = Date.now();
    const windowMs = this.options.failedAttemptsWindowMs;
    const window = this.failures.get(key) ?? { count: 0, resetAt: now + windowMs };
    window.count += 1;
    this.failures.set(key, window, window.resetAt);
    if (this.store.countFailure !== undefined)
      await this.safely('countFailure', () => this.store.countFailure!(key, windowMs));
  }

  /** One grant for `key` across instances: take the store lock, or wait for the holder's entry. */
  private async grantOnce(key: string, verifier: string, credentials: V3Credentials): Promise<Slot> {
    await this.checkSharedThrottle(key, verifier, credentials.clientId);
    const outcome = await this.lockOrWait(key, verifier);
    if ('slot' in outcome) return outcome.slot;
    const { lock } = outcome;
    if (lock) {
      const landed = await this.readFresh(key, verifier);
      if (landed) {
        await lock.release().catch(() => undefined);
        this.observer.lockWait?.('picked_up');
        return this.keep(key, landed);
      }
      this.observer.lockWait?.('acquired');
    }
    const lease = this.options.lockLeaseMs;
    const renewal = lock
      ? setInterval(() => void lock.renew(lease).catch(() => false), Math.max(50, lease / 3))
      : undefined;
    renewal?.unref();
    try {
      return await this.grant(key, verifier, credentials);
    } finally {
      if (renewal) clearInterval(renewal);
      await lock?.release().catch(() => undefined);
    }
  }

  private async lockOrWait(key: string, verifier: string): Promise<LockOutcome> {
    const deadline = Date.now() + this.options.lockWaitMs;
    for (;;) {
      let lock: TokenLock | undefined;
      try {
        lock = await this.store.acquireLock(key, this.options.lockLeaseMs);
      } catch (error) {
        this.observer.storeError?.('lock', (error as Error).message);
        this.observer.lockWait?.('fallback');
        return { lock: undefined };
      }
      if (lock) return { lock };
      const landed = await this.readFresh(key, verifier);
      if (landed) {
        this.observer.lockWait?.('picked_up');
        return { slot: this.keep(key, landed) };
      }
      if (Date.now() >= deadline) {
        this.observer.lockWait?.('timeout');
        return { lock: undefined };
      }
      await sleep(20 + Math.random() * 30);
    }
  }

  private async grant(key: string, verifier: string, credentials: V3Credentials): Promise<Slot> {
    let response: V3TokenRequestResponse;
    try {
      response = await this.client.requestToken(this.grantRequest(credentials));
    } catch (error) {
      if (error instanceof V3InvalidCredentialsException) {
        this.refused.set(verifier, error, Date.now() + this.options.invalidCredentialsTtlMs);
        await this.countFailure(key);
      }
      throw error;
    }
    this.failures.delete(key);
    const token = this.toCachedToken(response, credentials, verifier);
    this.rememberGood(key, token);
    return this.remember(key, token);
  }

  /**
   * A secret that obtained `token` passes the wrong-secret throttle until a window after the token expires, so a
   * flood of wrong secrets cannot lock the right one out when its token has to be renewed.
   */
  private rememberGood(key: string, token: CachedToken): void {
    if (token.verifier === '') return;
    this.lastGood.set(key, token.verifier, this.exemptUntil(token));
  }

  /** Epoch ms until which the secret that obtained `token` is exempt from the throttle. */
  private exemptUntil(token: CachedToken): number {
    return Math.max(Date.now(), token.expiresAt) + this.options.failedAttemptsWindowMs;
  }

  private grantRequest(credentials: V3Credentials): V3GrantRequest {
    return {
      grantType: credentials.grantType,
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      username: credentials.username,
      password: credentials.password,
      scope: credentials.scope,
    };
  }

  private async refreshGrant(grant: V3GrantRequest): Promise<Slot> {
    const response = await this.client.requestToken(grant);
    const token = this.toCachedToken(
      response,
      { grantType: 'client_credentials', clientId: grant.clientId, scope: grant.scope },
      '',
    );
    await this.rememberBearer(token);
    return this.toSlot('', token, token.expiresAt);
  }

  private toCachedToken(
    response: V3TokenRequestResponse,
    credentials: V3Credentials,
    verifier: string,
  ): CachedToken {
    const answer = response.v3TokenResponse;
    const token: CachedToken = {
      accessToken: answer.access_token,
      tokenType: 'Bearer',
      issuedAt: response.issuedAt,
      expiresAt: response.issuedAt + answer.expires_in * 1000,
      clientId: credentials.clientId,
      verifier,
    };
    if (credentials.username !== undefined) token.username = credentials.username;
    if (answer.scope !== undefined) token.scope = answer.scope;
    if (answer.refresh_token !== undefined) {
      token.refreshToken = answer.refresh_token;
      if (answer.refresh_expires_in)
        token.refreshExpiresAt = response.issuedAt + answer.refresh_expires_in * 1000;
    }
    return token;
  }

  /** Caches a new token (store, in process, and its bearer entry) when it outlives the skew. */
  private async remember(key: string, token: CachedToken): Promise<Slot> {
    const ttl = token.expiresAt - this.skewMs - Date.now();
    if (ttl <= 0) return this.toSlot(key, token, token.expiresAt);
    await this.safely('set', () => this.store.set(key, token, ttl));
    await this.rememberBearer(token);
    await this.shareGood(key, token);
    return this.keep(key, token);
  }

  /** Tells every instance sharing the store that `token`'s secret is exempt from the throttle (see `rememberGood`). */
  private async shareGood(key: string, token: CachedToken): Promise<void> {
    if (token.verifier === '' || this.store.rememberGood === undefined) return;
    const ttl = this.exemptUntil(token) - Date.now();
    const tag = TokenFingerprinter.exemptionTag(token.verifier);
    await this.safely('rememberGood', () => this.store.rememberGood!(key, tag, ttl));
  }

  private async rememberBearer(token: CachedToken): Promise<void> {
    const key = this.fingerprinter.bearerKey(token.accessToken);
    const ttl = token.expiresAt - Date.now();
    if (ttl <= this.skewMs) return;
    const entry: CachedToken = { ...token, verifier: '' };
    delete entry.refreshToken;
    delete entry.refreshExpiresAt;
    await this.safely('set', () => this.store.set(key, entry, ttl));
    this.keep(key, entry, token.expiresAt);
  }

  /** Holds `token` in process under `key` (when the in-process layer is on). */
  private keep(key: string, token: CachedToken, freshUntil = token.expiresAt - this.skewMs): Slot {
    this.rememberGood(key, token);
    const slot = this.toSlot(key, token, freshUntil);
    if (this.options.memoryCache) this.slots.set(key, slot, freshUntil);
    return slot;
  }

  private toSlot(key: string, token: CachedToken, freshUntil: number): Slot {
    const principal: V3Principal = {
      clientId: token.clientId,
      accessToken: token.accessToken,
      tokenType: 'Bearer',
      expiresAt: token.expiresAt,
    };
    if (token.username !== undefined) principal.username = token.username;
    if (token.scope !== undefined) principal.scope = token.scope;
    if (key) this.principalKeys.set(principal, key);
    const ratio = this.options.refreshAheadRatio;
    const life = token.expiresAt - token.issuedAt;
    const refreshAt =
      ratio > 0 && token.verifier !== ''
        ? token.issuedAt + life * Math.min(0.99, ratio * (1 + Math.random() * 0.05))
        : Infinity;
    return { key, token, principal, freshUntil, refreshAt };
  }

  private toResponse(token: CachedToken): V3TokenResponse {
    const now = Date.now();
    const response: V3TokenResponse = {
      access_token: token.accessToken,
      token_type: 'Bearer',
      expires_in: Math.max(0, Math.floor((token.expiresAt - now) / 1000)),
    };
    if (token.refreshToken !== undefined) {
      response.refresh_token = token.refreshToken;
      response.refresh_expires_in =
        token.refreshExpiresAt === undefined
          ? 0
          : Math.max(0, Math.floor((token.refreshExpiresAt - now) / 1000));
    }
    if (token.scope !== undefined) response.scope = token.scope;
    return response;
  }

  /** Renews a token past its refresh point in the background; the current token keeps serving meanwhile. */
  private refreshAhead(slot: Slot, credentials: () => V3Credentials | undefined): void {
    if (this.refreshing.has(slot.key)) return;
    this.refreshing.add(slot.key);
    slot.refreshAt = Infinity;
    this.observer.refreshAhead?.('started');
    void this.renew(slot, credentials)
      .then((renewed) => this.observer.refreshAhead?.(renewed ? 'success' : 'failed'))
      .finally(() => this.refreshing.delete(slot.key));
  }

  private async renew(slot: Slot, credentials: () => V3Credentials | undefined): Promise<boolean> {
    let lock: TokenLock | undefined;
    try {
      lock = await this.store.acquireLock(slot.key, this.options.lockLeaseMs);
      if (!lock) return false;
    } catch {
      lock = undefined;
    }
    try {
      const stored = await this.safely('get', () => this.store.get(slot.key));
      if (
        stored &&
        stored.accessToken !== slot.token.accessToken &&
        stored.verifier === slot.token.verifier
      ) {
        this.keep(slot.key, stored);
        return true;
      }
      const caller = credentials();
      const current = slot.token;
      let response: V3TokenRequestResponse | undefined;
      if (current.refreshToken && (current.refreshExpiresAt ?? Infinity) > Date.now()) {
        const client = caller ?? { clientId: current.clientId };
        response = await this.client
          .requestToken({
            grantType: 'refresh_token',
            clientId: client.clientId,
            clientSecret: caller?.clientSecret,
            refreshToken: current.refreshToken,
            scope: caller?.scope,
          })
          .catch(() => undefined);
      }
      if (!response) {
        if (!caller) return false;
        response = await this.client.requestToken(this.grantRequest(caller));
      }
      const renewed = this.toCachedToken(
        response,
        { grantType: 'client_credentials', clientId: current.clientId, username: current.username },
        current.verifier,
      );
      await this.remember(slot.key, renewed);
      return true;
    } catch {
      return false;
    } finally {
      await lock?.release().catch(() => undefined);
    }
  }

  private async safely<T>(operation: string, action: () => Promise<T>): Promise<T | undefined> {
    try {
      return await action();
    } catch (error) {
      this.storeFailed(operation, error);
      return undefined;
    }
  }

  private storeFailed(operation: string, error: unknown): void {
    this.observer.storeError?.(operation, (error as Error).message);
  }
}
