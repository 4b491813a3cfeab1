import { validateV3JwtOptions } from '../jwt/v3-jwt.config.js';
import type { V3RedisOptions, V3TokenAuthModuleOptions } from './v3-token-auth.options.js';

/** Options with every default applied; internal to the module. */
export type ResolvedV3TokenAuthOptions = Required<
  Pick<
    V3TokenAuthModuleOptions,
    | 'tokenUrl'
    | 'grantType'
    | 'clientAuthMethod'
    | 'keyPrefix'
    | 'expirySkewSeconds'
    | 'timeoutMs'
    | 'connections'
    | 'issuerQueueSize'
    | 'issuerQueueWaitMs'
    | 'coldGrantsPerAddressPerMinute'
    | 'reauthCooldownMs'
    | 'memoryCache'
    | 'memoryCacheMaxEntries'
    | 'refreshAheadRatio'
    | 'lockLeaseMs'
    | 'lockWaitMs'
    | 'invalidCredentialsTtlMs'
    | 'maxFailedAttempts'
    | 'failedAttemptsWindowMs'
    | 'knownGoodTtlMs'
    | 'maxHeaderBytes'
    | 'realm'
  >
> &
  V3TokenAuthModuleOptions;

/** Thrown at boot for an option that cannot work; the message names the option and the fix. */
export class V3TokenAuthOptionsError extends Error {
  constructor(option: string, problem: string) {
    super(`nestjs-v3-token-auth: option "${option}" ${problem}`);
    this.name = 'V3TokenAuthOptionsError';
  }
}

function positiveInteger(
  options: V3TokenAuthModuleOptions,
  name: keyof V3TokenAuthModuleOptions,
  fallback: number,
  min = 1,
): number {
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new V3TokenAuthOptionsError(name, `must be an integer >= ${min} (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** Applies defaults and checks every option; throws `V3TokenAuthOptionsError` naming the first bad one. */
export function resolveV3TokenAuthOptions(options: V3TokenAuthModuleOptions): ResolvedV3TokenAuthOptions {
  if (!options || typeof options.tokenUrl !== 'string' || options.tokenUrl === '') {
    throw new V3TokenAuthOptionsError(
      'tokenUrl',
      'is required: the V3 token endpoint, e.g. https://issuer.example/token',
    );
  }
  let url: URL;
  try {
    url = new URL(options.tokenUrl);
  } catch {
    throw new V3TokenAuthOptionsError('tokenUrl', 'is not a valid URL: use http(s)://host[:port]/path');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new V3TokenAuthOptionsError('tokenUrl', `must be an http(s) URL (got ${url.protocol})`);
  }
  if (url.username || url.password) {
    throw new V3TokenAuthOptionsError('tokenUrl', 'must not carry credentials: use clientId/clientSecret');
  }
  const grantType = options.grantType ?? 'client_credentials';
  if (grantType !== 'client_credentials' && grantType !== 'password') {
    throw new V3TokenAuthOptionsError('grantType', "must be 'client_credentials' or 'password'");
  }
  if (grantType === 'password' && !options.clientId) {
    throw new V3TokenAuthOptionsError(
      'clientId',
      "is required with grantType 'password': the module's own client id",
    );
  }
  const clientAuthMethod = options.clientAuthMethod ?? 'client_secret_post';
  if (clientAuthMethod !== 'client_secret_post' && clientAuthMethod !== 'client_secret_basic') {
    throw new V3TokenAuthOptionsError(
      'clientAuthMethod',
      "must be 'client_secret_post' or 'client_secret_basic'",
    );
  }
  if (options.hmacKey !== undefined && Buffer.byteLength(options.hmacKey) < 16) {
    throw new V3TokenAuthOptionsError('hmacKey', 'must be at least 16 bytes (32 random bytes recommended)');
  }
  const refreshAheadRatio = options.refreshAheadRatio ?? 0.8;
  if (typeof refreshAheadRatio !== 'number' || refreshAheadRatio < 0 || refreshAheadRatio >= 1) {
    throw new V3TokenAuthOptionsError(
      'refreshAheadRatio',
      'must be a number from 0 (off) to below 1, e.g. 0.8',
    );
  }
  if (options.jwt !== undefined) validateV3JwtOptions(options.jwt);
  if (options.revocationUrl !== undefined) assertHttpUrl('revocationUrl', options.revocationUrl);
  return {
    ...options,
    tokenUrl: url.toString(),
    redis: redisConnectionOf(options.redis),
    grantType,
    clientAuthMethod,
    keyPrefix: options.keyPrefix ?? 'v3t:',
    expirySkewSeconds: positiveInteger(options, 'expirySkewSeconds', 30, 0),
    timeoutMs: positiveInteger(options, 'timeoutMs', 5000),
    connections: positiveInteger(options, 'connections', 16),
    issuerQueueSize: positiveInteger(options, 'issuerQueueSize', 64, 0),
    issuerQueueWaitMs: positiveInteger(options, 'issuerQueueWaitMs', 5000, 0),
    coldGrantsPerAddressPerMinute: positiveInteger(options, 'coldGrantsPerAddressPerMinute', 120, 0),
    reauthCooldownMs: positiveInteger(options, 'reauthCooldownMs', 30_000, 0),
    memoryCache: options.memoryCache ?? true,
    memoryCacheMaxEntries: positiveInteger(options, 'memoryCacheMaxEntries', 10_000),
    refreshAheadRatio,
    lockLeaseMs: positiveInteger(options, 'lockLeaseMs', 10_000, 100),
    lockWaitMs: positiveInteger(options, 'lockWaitMs', 5000, 0),
    invalidCredentialsTtlMs: positiveInteger(options, 'invalidCredentialsTtlMs', 5000, 0),
    maxFailedAttempts: positiveInteger(options, 'maxFailedAttempts', 10),
    failedAttemptsWindowMs: positiveInteger(options, 'failedAttemptsWindowMs', 60_000),
    knownGoodTtlMs: positiveInteger(options, 'knownGoodTtlMs', 7 * 24 * 3_600_000),
    maxHeaderBytes: positiveInteger(options, 'maxHeaderBytes', 4096, 64),
    realm: options.realm ?? 'v3-token',
  };
}

function assertHttpUrl(option: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new V3TokenAuthOptionsError(option, 'is not a valid URL: use http(s)://host[:port]/path');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new V3TokenAuthOptionsError(option, `must be an http(s) URL (got ${url.protocol})`);
  }
  if (url.username || url.password) {
    throw new V3TokenAuthOptionsError(option, 'must not carry credentials: the caller authenticates');
  }
}

/**
 * `redis` as the module uses it: options that name no connection (`{ url: undefined }`, as
 * `{ url: config.get('REDIS_URL') }` gives when the variable is unset) mean "no Redis", so the in-process store serves.
 */
function redisConnectionOf(redis: V3RedisOptions | undefined): V3RedisOptions | undefined {
  if (redis === undefined) return undefined;
  const named =
    redis.client !== undefined ||
    (redis.url !== undefined && redis.url !== '') ||
    (redis.clusterNodes !== undefined && redis.clusterNodes.length > 0) ||
    redis.sentinel !== undefined;
  return named ? redis : undefined;
}
