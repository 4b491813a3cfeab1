import {
  createLocalJWKSet,
  errors,
  type CryptoKey,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';
import { JWKS_FIRST_BACKOFF_MS, JwksFetchBackoff } from './jwks-fetch.backoff.js';
import { JwksUnavailableError } from './jwks-unavailable.error.js';
import { fetchJwks, JWKS_MAX_BYTES } from './jwks.fetcher.js';

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * How long past `maxAgeMs` a set that cannot be fetched again still verifies the `kid`s it has, ms: an issuer's JWKS
 * outage of up to an hour costs no caller, while a key the issuer withdrew (a compromised one) stops working an hour
 * after the set went stale however long the outage lasts.
 */
export const STALE_KEYS_GRACE_MS = 3_600_000;

/** Timing of a {@link JwksKeySource}, all in ms. */
export interface JwksKeySourceOptions {
  /** The issuer's JWKS URL. */
  url: string;
  /** Least time after a good fetch before an unknown `kid` may fetch again. */
  cooldownMs: number;
  /** Age after which the set is fetched again before use. */
  maxAgeMs: number;
  /** Deadline of one fetch: connect, headers and body. */
  timeoutMs: number;
}

/**
 * The issuer's signing keys, as a `jose` key resolver ({@link getKey}). The set is fetched when missing or older than
 * `maxAgeMs`, and when a token names an unknown `kid` at most once per `cooldownMs`. At most one fetch runs at a time;
 * after a failed one none starts until its backoff ends ({@link JwksFetchBackoff}: 1 s, doubling up to `cooldownMs`),
 * and callers meanwhile get that failure at once. While a stale set cannot be refetched, its keys go on verifying the
 * `kid`s it has, for at most {@link STALE_KEYS_GRACE_MS} past `maxAgeMs`; an unknown `kid` then is a
 * {@link JwksUnavailableError}, not a refusal.
 */
export class JwksKeySource {
  private keys: LocalKeySet | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<LocalKeySet> | undefined;
  private readonly backoff: JwksFetchBackoff;

  constructor(
    private readonly options: JwksKeySourceOptions,
    private readonly now: () => number,
  ) {
    this.backoff = new JwksFetchBackoff(Math.max(options.cooldownMs, JWKS_FIRST_BACKOFF_MS), now);
  }

  /** The key for a token's protected header; for `jwtVerify`. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const keys = this.freshKeys() ?? (await this.refreshed({ keepLastGood: true }));
    try {
      return await keys(header, token);
    } catch (error) {
      const coolingDown = this.now() - this.fetchedAt < this.options.cooldownMs;
      if (!(error instanceof errors.JWKSNoMatchingKey) || coolingDown) throw error;
      return (await this.refreshed({ keepLastGood: false }))(header, token);
    }
  };

  /** Whether the last good set, stale, may still stand in for one that cannot be fetched. */
  private stillUsable(): boolean {
    return this.now() - this.fetchedAt < this.options.maxAgeMs + STALE_KEYS_GRACE_MS;
  }

  private freshKeys(): LocalKeySet | undefined {
    return this.now() - this.fetchedAt < this.options.maxAgeMs ? this.keys : undefined;
  }

  private async refreshed({ keepLastGood }: { keepLastGood: boolean }): Promise<LocalKeySet> {
    this.inFlight ??= this.fetchKeys().finally(() => {
      this.inFlight = undefined;
    });
    try {
      return await this.inFlight;
    } catch (error) {
      if (keepLastGood && this.keys && this.stillUsable()) return this.keys;
      throw error;
    }
  }

  private async fetchKeys(): Promise<LocalKeySet> {
    const backingOff = this.backoff.pendingFailure();
    if (backingOff) throw backingOff;
    try {
      const document = await fetchJwks(this.options.url, {
        timeoutMs: this.options.timeoutMs,
        maxBytes: JWKS_MAX_BYTES,
      });
      this.keys = keySetOf(document);
      this.fetchedAt = this.now();
      this.backoff.succeeded();
      return this.keys;
    } catch (error) {
      throw this.backoff.failed(
        error instanceof JwksUnavailableError
          ? error
          : new JwksUnavailableError('The issuer JWKS could not be fetched', { cause: error }),
      );
    }
  }
}

function keySetOf(document: unknown): LocalKeySet {
  try {
    return createLocalJWKSet(document as JSONWebKeySet);
  } catch (error) {
    throw new JwksUnavailableError('The issuer JWKS is not a JWK Set', { cause: error });
  }
}
