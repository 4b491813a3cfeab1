import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { createRedisClient, isClusterClient, type RedisClientHandle } from './redis-client.factory.js';
import {
  COUNT_AND_WINDOW,
  COUNT_IN_WINDOW,
  DELETE_IF_EQUAL,
  DELETE_IF_PREFIX,
  type LuaScript,
  PEXPIRE_IF_EQUAL,
  REFUND_REAUTH_WINDOW,
  SPEND_REAUTH_WINDOW,
  THROTTLE_STATE,
} from './redis-scripts.js';
import { RedisStall } from './redis-stall.js';
import { RedisWriteCoalescer } from './redis-write-coalescer.js';
import { entryOf, frozen, payloadOf, storedValue, storedValuePrefix, toCachedToken } from './stored-entry.js';
import {
  type CachedToken,
  type CountWindow,
  type ReauthWindowState,
  type StoredWithTombstone,
  type ThrottleState,
  type TokenLock,
  type TokenStore,
  type TombstoneListener,
} from '../token-store.interface.js';
import { BoundedTtlCache } from '../memory/bounded-ttl.cache.js';
import type { TokenSealer } from '../token-sealer.js';
import type { V3TokenAuthObserver } from '../../module/v3-token-auth.observer.js';
import type { V3RedisOptions } from '../../module/v3-token-auth.options.js';

/** Options of `RedisTokenStore`. */
export interface RedisTokenStoreOptions {
  /** The Redis to use: an existing client (never disconnected by the store), a URL, cluster nodes or sentinels. */
  redis: V3RedisOptions;
  /** Prefix of every key; must not contain `{` or `}`. @default 'v3t:' */
  keyPrefix?: string;
  /** Seals entries at rest (AES-256-GCM). @default none: entries are stored as JSON */
  sealer?: TokenSealer;
  /** Receives `storeError` for every Redis failure the store absorbs. */
  observer?: V3TokenAuthObserver;
}

/** Entries kept decoded, with the stored value each came from (`decode`), at most: the hot ones. */
const DECODED_ENTRIES = 1024;

/** An entry as decoded from the stored value `raw`. */
interface DecodedEntry {
  raw: string;
  entry: CachedToken;
}

/** Thrown by `acquireLock` when Redis cannot be asked: distinct from "another holder has the lock" (undefined). */
export class TokenStoreUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`The token store is unavailable: ${reason}`);
    this.name = 'TokenStoreUnavailableError';
  }
}

/** How long the `PING` that probes a stalled connection may take, ms. */
const STALL_PROBE_TIMEOUT_MS = 500;
const STALLED = 'Redis is not answering (a command timed out); commands wait until a PING answers';

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function assertKeyPrefix(keyPrefix: string | undefined): void {
  if (keyPrefix?.includes('{') || keyPrefix?.includes('}')) {
    throw new Error(`keyPrefix "${keyPrefix}" must not contain '{' or '}': the store adds its own hash tag`);
  }
}

/**
 * `TokenStore` on Redis (standalone, Cluster or Sentinel), shared by every instance.
 *
 * An entry lives at `<prefix>{<key>}`, its grant lock at `<prefix>{<key>}:lock`, and the client's shared
 * wrong-secret count and exempt secret at `<prefix>{<key>}:failures` and `:good` (one hash tag, one slot).
 * An evicted token's tombstone lives at `<prefix>{<bearer key>}:evicted` for the token's remaining life, and its
 * writer publishes `<bearer key> <ttl ms>` on the channel `<prefix>evicted`, which every store listening with
 * `onTombstone` receives on a connection of its own (a duplicate of the client, closed with the store).
 * The value is `<sha256(accessToken) hex>|<payload>`, the payload being the entry's JSON or, with a sealer,
 * its sealed form bound to the Redis key. A Redis failure never escapes `get`, `set` or `delete` (they answer
 * a miss / nothing and report `storeError`); `acquireLock` throws `TokenStoreUnavailableError`.
 * Create one with `RedisTokenStore.create` (it loads `ioredis`, an optional peer, and creates the client).
 * @example const store = await RedisTokenStore.create({ redis: { url: 'redis://localhost:6379' }, sealer });
 */
export class RedisTokenStore implements TokenStore {
  /** The client in use; exposed for health checks. */
  readonly client: Redis | Cluster;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly sealer: TokenSealer | undefined;
  private readonly observer: V3TokenAuthObserver | undefined;
  private readonly writes: RedisWriteCoalescer;
  /** The entries decoded lately, by Redis key (`decode`). */
  private readonly decoded = new BoundedTtlCache<DecodedEntry>({ maxEntries: DECODED_ENTRIES });
  private subscriber: Redis | Cluster | undefined;
  private readonly tombstoneListeners: TombstoneListener[] = [];
  /** Set while an open connection does not answer: commands then fail at once. */
  private readonly stall = new RedisStall(() => this.ping(STALL_PROBE_TIMEOUT_MS));

  /** A store on the Redis that `options.redis` names: an existing client, or one created for it (and closed with it). */
  static async create(options: RedisTokenStoreOptions): Promise<RedisTokenStore> {
    assertKeyPrefix(options.keyPrefix);
    return new RedisTokenStore(await createRedisClient(options.redis, options.observer), options);
  }

  /** A store on `handle.client`; `create` makes the handle. */
  constructor(
    { client, owned }: RedisClientHandle,
    { keyPrefix = 'v3t:', sealer, observer }: Omit<RedisTokenStoreOptions, 'redis'> = {},
  ) {
    assertKeyPrefix(keyPrefix);
    this.client = client;
    this.owned = owned;
    this.prefix = keyPrefix;
    this.sealer = sealer;
    this.observer = observer;
    this.writes = new RedisWriteCoalescer(client);
  }

  /** The Redis key of an entry. */
  entryKey(key: string): string {
    return `${this.prefix}{${key}}`;
  }

  /** The Redis key of an entry's grant lock (same hash slot as the entry). */
  lockKey(key: string): string {
    return `${this.prefix}{${key}}:lock`;
  }

  /** The Redis key of the tombstone of the token whose bearer key is `key`. */
  tombstoneKey(key: string): string {
    return `${this.prefix}{${key}}:evicted`;
  }

  /** The Redis key of the count of `key` (`countInWindow`). */
  countKey(key: string): string {
    return `${this.prefix}{${key}}:count`;
  }

  /** The Redis key of the re-grant window of `key` (`openReauthWindow`). */
  reauthWindowKey(key: string): string {
    return `${this.prefix}{${key}}:reauth`;
  }

  /** The pub/sub channel on which tombstones are announced. */
  get tombstoneChannel(): string {
    return `${this.prefix}evicted`;
  }

  /** The Redis keys of a client's shared wrong-secret count and of its exempt verifier (same hash slot). */
  throttleKeys(key: string): { failures: string; good: string } {
    return { failures: `${this.prefix}{${key}}:failures`, good: `${this.prefix}{${key}}:good` };
  }

  async get(key: string): Promise<CachedToken | undefined> {
    if (!this.reachable('get')) return undefined;
    const redisKey = this.entryKey(key);
    let raw: string | null;
    try {
      this.writes.beforeCommand();
      raw = await this.client.get(redisKey);
    } catch (error) {
      this.report('get', error);
      return undefined;
    }
    return raw === null ? undefined : this.readEntry(redisKey, raw);
  }

  /**
   * One `MGET` of the entry and the tombstone where Redis can answer it (not a Cluster, or both keys in one hash slot:
   * a bearer entry and its own tombstone); on a Cluster otherwise, the `GET` and the `EXISTS` leave side by side.
   */
  getWithTombstone(key: string, bearerKey: string): Promise<StoredWithTombstone> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) return Promise.reject(unavailable);
    const redisKey = this.entryKey(key);
    const tombstoneKey = this.tombstoneKey(bearerKey);
    this.writes.beforeCommand();
    const withTombstone = (raw: string | null, tombstoned: boolean): StoredWithTombstone => ({
      entry: raw === null ? undefined : this.readEntry(redisKey, raw),
      tombstoned,
    });
    // Not an async function: this is every store hit's read, and each async frame costs it a turn of the microtasks.
    if (key === bearerKey || !isClusterClient(this.client)) {
      return this.client
        .mget(redisKey, tombstoneKey)
        .then(([entry, tombstone]) => withTombstone(entry, tombstone !== null), this.noticeFailure);
    }
    return Promise.all([this.client.get(redisKey), this.client.exists(tombstoneKey)]).then(
      ([entry, exists]) => withTombstone(entry, exists === 1),
      this.noticeFailure,
    );
  }

  async set(key: string, entry: CachedToken, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0) || !this.reachable('set')) return;
    const stored = toCachedToken(entry);
    if (stored === undefined) {
      this.report('set', 'the entry does not have the CachedToken shape; not stored');
      return;
    }
    const redisKey = this.entryKey(key);
    const json = JSON.stringify(stored);
    const payload = this.sealer ? this.sealer.seal(json, redisKey) : json;
    try {
      this.writes.beforeCommand();
      await this.client.set(redisKey, storedValue(entry.accessToken, payload), 'PX', Math.ceil(ttlMs));
    } catch (error) {
      this.report('set', error);
    }
  }

  async delete(key: string, ifAccessToken?: string): Promise<boolean> {
    if (!this.reachable('delete')) return false;
    const redisKey = this.entryKey(key);
    try {
      if (ifAccessToken === undefined) {
        this.writes.beforeCommand();
        return (await this.client.del(redisKey)) > 0;
      }
      return (await this.script(DELETE_IF_PREFIX, redisKey, [storedValuePrefix(ifAccessToken)])) === 1;
    } catch (error) {
      this.report('delete', error);
      return false;
    }
  }

  async acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) {
      this.observer?.storeError?.('acquireLock', unavailable.reason);
      throw unavailable;
    }
    const lockKey = this.lockKey(key);
    const owner = randomBytes(16).toString('base64url');
    let reply: string | null;
    try {
      this.writes.beforeCommand();
      reply = await this.client.set(lockKey, owner, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    } catch (error) {
      this.report('acquireLock', error);
      throw new TokenStoreUnavailableError(errorMessage(error));
    }
    if (reply !== 'OK') return undefined;
    return {
      key,
      renew: async (renewTtlMs: number): Promise<boolean> => {
        try {
          const ttl = Math.max(1, Math.ceil(renewTtlMs));
          return (await this.script(PEXPIRE_IF_EQUAL, lockKey, [owner, ttl])) === 1;
        } catch (error) {
          this.report('renewLock', error);
          return false;
        }
      },
      release: async (): Promise<void> => {
        try {
          await this.script(DELETE_IF_EQUAL, lockKey, [owner]);
        } catch (error) {
          this.report('releaseLock', error);
        }
      },
    };
  }

  async lockTtlMs(key: string): Promise<number | undefined> {
    if (!this.reachable('lockTtl')) return undefined;
    try {
      this.writes.beforeCommand();
      const ttl = await this.client.pttl(this.lockKey(key));
      return ttl >= 0 ? ttl : undefined;
    } catch (error) {
      this.report('lockTtl', error);
      return undefined;
    }
  }

  async countFailure(key: string, windowMs: number): Promise<void> {
    if (!this.reachable('countFailure')) return;
    try {
      await this.script(
        COUNT_IN_WINDOW,
        [this.throttleKeys(key).failures],
        [Math.max(1, Math.ceil(windowMs))],
      );
    } catch (error) {
      this.report('countFailure', error);
    }
  }

  async rememberGood(key: string, tag: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0) || !this.reachable('rememberGood')) return;
    try {
      this.writes.beforeCommand();
      await this.client.set(this.throttleKeys(key).good, tag, 'PX', Math.ceil(ttlMs));
    } catch (error) {
      this.report('rememberGood', error);
    }
  }

  /** Answers an empty state (and reports) when Redis cannot be asked: the instance's own counts still apply. */
  async throttleState(key: string): Promise<ThrottleState> {
    if (!this.reachable('throttleState')) return { failures: 0, resetInMs: 0 };
    const { failures, good } = this.throttleKeys(key);
    try {
      const [count, pttl, tag] = (await this.script(THROTTLE_STATE, [failures, good], [])) as [
        string | null,
        number,
        string | null,
      ];
      const state: ThrottleState = { failures: Number(count ?? 0), resetInMs: Math.max(0, pttl) };
      if (typeof tag === 'string') state.good = tag;
      return state;
    } catch (error) {
      this.report('throttleState', error);
      return { failures: 0, resetInMs: 0 };
    }
  }

  /** Throws when Redis cannot be asked: the caller counts in process instead. */
  async countInWindow(key: string, windowMs: number): Promise<CountWindow> {
    this.assertReachable();
    const [count, pttl] = (await this.script(COUNT_AND_WINDOW, this.countKey(key), [
      Math.max(1, Math.ceil(windowMs)),
    ])) as [number, number];
    return { count, resetInMs: Math.max(0, pttl) };
  }

  /** Throws when Redis cannot be asked: the caller keeps the window in process instead. */
  async openReauthWindow(key: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) return;
    this.assertReachable();
    this.writes.beforeCommand();
    await this.client.set(this.reauthWindowKey(key), '1', 'PX', Math.ceil(ttlMs), 'NX');
  }

  /** Throws when Redis cannot be asked: the caller decides from the windows it keeps in process. */
  async spendReauthWindow(key: string): Promise<ReauthWindowState> {
    this.assertReachable();
    const window = (await this.script(SPEND_REAUTH_WINDOW, this.reauthWindowKey(key), [])) as
      [] | [number, number];
    if (window.length === 0) return { open: false };
    const [left, pttl] = window;
    return { open: true, regrant: left >= 0, resetInMs: Math.max(0, pttl) };
  }

  /** Throws when Redis cannot be asked. */
  async refundReauthWindow(key: string): Promise<void> {
    this.assertReachable();
    await this.script(REFUND_REAUTH_WINDOW, this.reauthWindowKey(key), []);
  }

  async tombstone(key: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0) || !this.reachable('tombstone')) return;
    const ttl = Math.ceil(ttlMs);
    try {
      this.writes.beforeCommand();
      await this.client.set(this.tombstoneKey(key), '1', 'PX', ttl);
      this.writes.beforeCommand();
      await this.client.publish(this.tombstoneChannel, `${key} ${ttl}`);
    } catch (error) {
      this.report('tombstone', error);
    }
  }

  async isTombstoned(key: string): Promise<boolean> {
    this.assertReachable();
    this.writes.beforeCommand();
    return (await this.client.exists(this.tombstoneKey(key))) === 1;
  }

  /**
   * Listens on the tombstone channel through a connection of its own. Every `ready` after the first (a reconnect,
   * during which announcements may have been lost) is reported as `undefined`.
   */
  onTombstone(listener: TombstoneListener): void {
    this.tombstoneListeners.push(listener);
    if (this.subscriber !== undefined) return;
    // The 'ready' handler below subscribes on every (re)connection and catches its failure. ioredis' own
    // resubscription does the same without a catch: a connection that drops again at once leaves an unhandled
    // rejection ("Stream isn't writeable"), which ends a Node process. So a standalone duplicate has it off.
    const subscriber =
      'isCluster' in this.client && this.client.isCluster
        ? (this.client as Cluster).duplicate()
        : (this.client as Redis).duplicate({ autoResubscribe: false });
    this.subscriber = subscriber;
    let connectedBefore = false;
    subscriber.on('error', (error: unknown) => this.report('subscribe', error));
    subscriber.on('ready', () => {
      if (connectedBefore) this.announce(undefined);
      connectedBefore = true;
      subscriber.subscribe(this.tombstoneChannel).catch((error: unknown) => this.report('subscribe', error));
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.tombstoneChannel) return;
      const [tombstoneKey, ttl] = message.split(' ');
      const ttlMs = Number(ttl);
      if (tombstoneKey && Number.isFinite(ttlMs) && ttlMs > 0) this.announce({ key: tombstoneKey, ttlMs });
    });
    if (subscriber.status === 'wait')
      subscriber.connect().catch((error: unknown) => this.report('subscribe', error));
  }

  isHealthy(): boolean {
    return this.client.status === 'ready';
  }

  /** `PING` answered within `timeoutMs`; false when the connection is down or Redis hangs. Never throws. */
  async ping(timeoutMs: number): Promise<boolean> {
    if (this.client.status !== 'ready') return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    const answered = this.client.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    );
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves true once the connection is ready (or lazy), false after `timeoutMs`; never throws. */
  waitUntilReady(timeoutMs: number): Promise<boolean> {
    const status = this.client.status;
    if (status === 'ready' || status === 'wait') return Promise.resolve(true);
    return new Promise((resolve) => {
      const settle = (ready: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ready);
      };
      const onReady = () => settle(true);
      const timer = setTimeout(() => settle(false), timeoutMs);
      timer.unref();
      this.client.once('ready', onReady);
    });
  }

  async close(): Promise<void> {
    this.stall.close();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    if (!this.owned || this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** The entry stored as `raw` under `redisKey`; an unreadable one is reported and removed. */
  private readEntry(redisKey: string, raw: string): CachedToken | undefined {
    const entry = this.decode(redisKey, raw);
    if (entry === undefined) {
      this.report('get', 'an unreadable entry was found and removed');
      void this.script(DELETE_IF_EQUAL, redisKey, [raw]).catch(() => undefined);
    }
    return entry;
  }

  /**
   * The entry a stored value holds. Decoding is a pure function of the key and the bytes (open the seal, parse, check
   * the shape and the fingerprint), so the entries decoded lately are kept with the value they came from: the same
   * bytes read again under the same key (every store hit of a hot client with `memoryCache` off) are not decoded
   * again. Redis is still read every time; an entry that changed, or tampered bytes, are decoded afresh.
   */
  private decode(redisKey: string, raw: string): CachedToken | undefined {
    const known = this.decoded.get(redisKey);
    if (known !== undefined && known.raw === raw) return known.entry;
    const entry = this.decodeAfresh(redisKey, raw);
    if (entry !== undefined) this.decoded.set(redisKey, { raw, entry: frozen(entry) }, entry.expiresAt);
    return entry;
  }

  private decodeAfresh(redisKey: string, raw: string): CachedToken | undefined {
    const payload = payloadOf(raw);
    const json = payload !== undefined && this.sealer ? this.sealer.open(payload, redisKey) : payload;
    return json === undefined ? undefined : entryOf(json, raw);
  }

  /** Runs a Lua script by its SHA, loading it (EVAL) when this Redis node does not have it yet. */
  private async script(
    script: LuaScript,
    keys: string | string[],
    args: (string | number)[],
  ): Promise<unknown> {
    const names = typeof keys === 'string' ? [keys] : keys;
    try {
      this.writes.beforeCommand();
      return await this.client.evalsha(script.sha, names.length, ...names, ...args);
    } catch (error) {
      if (!errorMessage(error).startsWith('NOSCRIPT')) throw error;
      this.writes.beforeCommand();
      return this.client.eval(script.lua, names.length, ...names, ...args);
    }
  }

  /** False (and reported) while the client cannot take commands, so callers never wait on a dead connection. */
  private reachable(operation: string): boolean {
    const problem = this.unavailable();
    if (problem === undefined) return true;
    this.observer?.storeError?.(operation, problem.reason);
    return false;
  }

  /** Throws `TokenStoreUnavailableError` while the client cannot take commands. */
  private assertReachable(): void {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) throw unavailable;
  }

  /** Why Redis cannot be asked now, or undefined when it can. */
  private unavailable(): TokenStoreUnavailableError | undefined {
    if (this.stall.active) return new TokenStoreUnavailableError(STALLED);
    const status = this.client.status;
    return status === 'ready' || status === 'wait'
      ? undefined
      : new TokenStoreUnavailableError(`Redis is not connected (${status})`);
  }

  private announce(tombstone: { key: string; ttlMs: number } | undefined): void {
    for (const listener of this.tombstoneListeners) listener(tombstone);
  }

  /** Rethrows the error of a read its caller reports, after the stall has seen it. */
  private readonly noticeFailure = (error: unknown): never => {
    this.stall.noticed(error);
    throw error;
  };

  private report(operation: string, error: unknown): void {
    this.stall.noticed(error);
    this.observer?.storeError?.(operation, typeof error === 'string' ? error : errorMessage(error));
  }
}
