import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { loadIoredis } from './ioredis.loader.js';
import type { V3RedisOptions } from '../../module/v3-token-auth.options.js';
import type { V3TokenAuthObserver } from '../../module/v3-token-auth.observer.js';

/** A Redis client for the token store, and whether the store created it (and so must close it). */
export interface RedisClientHandle {
  client: Redis | Cluster;
  /** True when the client was created here: its owner disconnects it on shutdown. */
  owned: boolean;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 1000;
const MAX_RECONNECT_DELAY_MS = 2000;
/**
 * How long ioredis waits, once it has ended a connection it disconnects, for the connection to close before it
 * destroys it (its default is 2 s). A connection that had already closed (Redis went away) never closes again, so
 * the whole wait runs out on a ref'd timer that keeps the process alive after the store has closed.
 */
const DISCONNECT_TIMEOUT_MS = 200;

/**
 * Whether `client` is a Redis Cluster client, by ioredis' own `isCluster` flag rather than `instanceof`: a client
 * made by another copy of ioredis (a second install in the app's node_modules) is no instance of this copy's classes.
 * @example isClusterClient(new Cluster([{ host: 'redis-1', port: 6379 }])) === true
 */
export function isClusterClient(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

/** Reconnects forever, backing off from 50 ms to 2 s, so the client comes back by itself. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(Math.max(attempt - 1, 0), 6), MAX_RECONNECT_DELAY_MS);
}

/** `value` with any password replaced by `***`, for error messages. */
export function redactRedisUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/([^/@]*):[^/@]*@/, '//$1:***@').replace(/\/\/[^/@:]+@/, '//***@');
  }
}

/** `host:port` strings as ioredis addresses; throws an Error naming the bad entry. */
export function parseHostPorts(values: string[], what: string): { host: string; port: number }[] {
  return values.map((value) => {
    const match = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(value.trim());
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      throw new Error(`${what} entry "${value}" is not host:port (e.g. redis-1:6379)`);
    }
    return { host: match[1], port };
  });
}

function assertRedisUrl(url: string): void {
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new Error(
      `REDIS_URL is not a valid redis:// or rediss:// URL: ${redactRedisUrl(url)} (e.g. redis://localhost:6379/0)`,
    );
  }
}

function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/rediss?:\/\/[^\s]*/g, (url) => redactRedisUrl(url));
}

/**
 * The client the token store talks to. An existing `client` is used as is (owned: false), whichever copy of ioredis
 * made it (see `isClusterClient`); otherwise one is
 * created from `url`, `clusterNodes` or `sentinel` with settings that fail fast while Redis is down (no offline
 * queue, one retry, a command timeout) and reconnect forever, so the cache comes back by itself, and that let go of a
 * connection they close within `DISCONNECT_TIMEOUT_MS`.
 * None of them auto-pipelines: the store coalesces each turn's writes itself (see `RedisWriteCoalescer`).
 * Connection errors go to `observer.storeError`, never unhandled. `ioredis` is loaded here, on first use (`loadIoredis`).
 * @example const { client, owned } = await createRedisClient({ url: 'redis://localhost:6379' });
 */
export async function createRedisClient(
  options: V3RedisOptions,
  observer?: V3TokenAuthObserver,
): Promise<RedisClientHandle> {
  if (options.client) return { client: options.client, owned: false };
  const { Cluster, Redis } = await loadIoredis();

  const common: RedisOptions = {
    connectTimeout: CONNECT_TIMEOUT_MS,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
    ...options.options,
    commandTimeout: options.commandTimeoutMs ?? options.options?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  };

  let client: Redis | Cluster;
  if (options.url !== undefined) {
    assertRedisUrl(options.url);
    client = new Redis(options.url, common);
  } else if (options.clusterNodes !== undefined && options.clusterNodes.length > 0) {
    const {
      retryStrategy: _retry,
      enableOfflineQueue: _queue,
      sentinels: _sentinels,
      lazyConnect: _lazy,
      ...redisOptions
    } = common;
    const clusterOptions: ClusterOptions = {
      redisOptions,
      enableOfflineQueue: false,
      lazyConnect: false,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    };
    client = new Cluster(parseHostPorts(options.clusterNodes, 'REDIS_CLUSTER_NODES'), clusterOptions);
  } else if (options.sentinel !== undefined) {
    client = new Redis({
      ...common,
      sentinels: parseHostPorts(options.sentinel.sentinels, 'Redis sentinel'),
      name: options.sentinel.name,
      sentinelRetryStrategy: reconnectDelay,
    });
  } else {
    throw new Error('Redis options need one of client, url, clusterNodes or sentinel');
  }

  client.on('error', (error: unknown) => observer?.storeError?.('connection', safeMessage(error)));
  return { client, owned: true };
}
