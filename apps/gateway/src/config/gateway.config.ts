import { ConfigModule, type ConfigModuleOptions } from '@nestjs/config';
import type { DynamicModule } from '@nestjs/common';
import { parseEncryptionKeys, type V3EncryptionKey } from 'nestjs-v3-token-auth';
import { z } from 'zod';
import { TrustedProxies } from '../proxy/caller-address.js';
import type { CookiePolicy } from '../proxy/proxy-headers.js';
import type { GatewayRoute } from './gateway-route.js';
import { loadRoutesFile, reservedPathOf, RoutesFileError } from './routes-file.js';

export type { GatewayRoute } from './gateway-route.js';

/** Key under which the validated `GatewayConfig` is held by `ConfigService`. */
export const GATEWAY_CONFIG = 'gateway';

/** The sandbox token endpoint, used when `V3_TOKEN_URL` is not set outside production. */
export const SANDBOX_TOKEN_URL = 'http://127.0.0.1:3001/token';

/** Paths the gateway serves itself; no route prefix may take them. */
export const RESERVED_PATHS: readonly string[] = ['/token', '/revoke', '/health', '/metrics'];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type GatewayLogLevel = (typeof LOG_LEVELS)[number];

export interface GatewayRedisConfig {
  url?: string;
  clusterNodes?: string[];
  sentinel?: { name: string; sentinels: string[] };
  /** `REDIS_COMMAND_TIMEOUT_MS`; unset leaves the module's default (500). */
  commandTimeoutMs?: number;
}

/** What happens to cookies on proxied routes (`GATEWAY_COOKIES`). */
export type GatewayCookiePolicy = CookiePolicy;

/** The gateway's edge: how long it waits for callers, how much one caller may hold, how it shuts down. */
export interface GatewayEdgeConfig {
  /** `GATEWAY_HEADERS_TIMEOUT_MS`: a caller must send its request head within this time, ms (else 408). */
  headersTimeoutMs: number;
  /** `GATEWAY_REQUEST_TIMEOUT_MS`: a caller must send its whole request, body included, within this time, ms. */
  requestTimeoutMs: number;
  /** `GATEWAY_BODY_IDLE_TIMEOUT_MS`: a request body that sends nothing for this long is answered 408, ms. */
  bodyIdleTimeoutMs: number;
  /** `GATEWAY_KEEP_ALIVE_TIMEOUT_MS`: an idle keep-alive connection is closed after this time, ms. */
  keepAliveTimeoutMs: number;
  /** `GATEWAY_UPSTREAM_CONNECTIONS`: keep-alive connections per route's downstream, at most. */
  upstreamConnections: number;
  /** `GATEWAY_QUEUE_TIMEOUT_MS`: how long a request waits for a free downstream connection before 503, ms. */
  queueTimeoutMs: number;
  /** `GATEWAY_MAX_INFLIGHT_PER_CLIENT`: requests one caller address may have in flight per route; 0 is no cap. */
  maxInflightPerClient: number;
  /** `GATEWAY_SHUTDOWN_TIMEOUT_MS`: after SIGTERM, in-flight requests get at most this long to finish, ms. */
  shutdownTimeoutMs: number;
  /** `GATEWAY_TRUSTED_PROXIES`: whose forwarding headers are believed; defines the caller address. */
  trustedProxies: TrustedProxies;
  /** `GATEWAY_COOKIES`: `strip` (default) or `forward` cookies on proxied routes. */
  cookies: GatewayCookiePolicy;
  /** `GATEWAY_ADMIN_PORT`: when set, `/health*` and `/metrics` are served on this port only. */
  adminPort?: number;
}

/** The edge settings when none is given: what `parseGatewayConfig({})` yields. */
export const DEFAULT_EDGE_CONFIG: Readonly<GatewayEdgeConfig> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  bodyIdleTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  upstreamConnections: 128,
  queueTimeoutMs: 2_000,
  maxInflightPerClient: 64,
  shutdownTimeoutMs: 10_000,
  trustedProxies: TrustedProxies.NONE,
  cookies: 'strip',
};

/** The gateway's configuration, validated from environment variables at boot. */
export interface GatewayConfig {
  nodeEnv: string;
  port: number;
  host: string;
  tokenUrl: string;
  grantType: 'client_credentials' | 'password';
  clientAuthMethod: 'client_secret_post' | 'client_secret_basic';
  clientId?: string;
  clientSecret?: string;
  redis?: GatewayRedisConfig;
  hmacKey?: string;
  encryptionKeys?: V3EncryptionKey[];
  expirySkewSeconds: number;
  routes: GatewayRoute[];
  logLevel: GatewayLogLevel;
  upstreamTimeoutMs: number;
  /** The edge settings (`GATEWAY_*` timeouts, queue, caps, trusted proxies, cookies, admin port). */
  edge: GatewayEdgeConfig;
  memoryCache: boolean;
  // Token module tuning: undefined while the variable is unset, so the module's own default applies.
  /** `V3_TOKEN_TIMEOUT_MS`: timeout of one token endpoint call, ms. */
  tokenTimeoutMs?: number;
  /** `V3_REVOCATION_URL`: the issuer's RFC 7009 endpoint, to which `POST /revoke` passes revocations on. */
  revocationUrl?: string;
  /** `GATEWAY_REAUTH_COOLDOWN_MS`: after a downstream 401, no further re-grant for those credentials for this long, ms. */
  reauthCooldownMs: number;
  /** `V3_SCOPE`: the `scope` sent with every grant that does not carry its own. */
  scope?: string;
  /** `V3_TOKEN_RETRY_ATTEMPTS`: attempts in all at the token endpoint, the first included. */
  retryAttempts?: number;
  /** `V3_TOKEN_BREAKER_THRESHOLD`: consecutive retryable failures that open the circuit. */
  breakerFailureThreshold?: number;
  /** `V3_TOKEN_BREAKER_RESET_MS`: how long the circuit stays open before one trial call, ms. */
  breakerResetTimeoutMs?: number;
  /** `V3_TOKEN_MAX_CONCURRENCY`: calls in flight to the token endpoint at once (its connections). */
  tokenMaxConcurrency?: number;
  /** `V3_TOKEN_QUEUE_SIZE`: calls that may wait for a connection to the token endpoint before 503. */
  tokenQueueSize?: number;
  /** `V3_TOKEN_QUEUE_WAIT_MS`: longest a call waits for a connection to the token endpoint before 503, ms. */
  tokenQueueWaitMs?: number;
  /** `TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE`: grants one caller address may start per minute; 0 is no cap. */
  coldGrantsPerAddressPerMinute?: number;
  /** `REDIS_KEY_PREFIX`: prefix of every Redis key; never contains `{` or `}`. */
  keyPrefix?: string;
  /** `TOKEN_MEMORY_CACHE_MAX_ENTRIES`: entries the in-process cache holds at most. */
  memoryCacheMaxEntries?: number;
  /** `TOKEN_REFRESH_AHEAD_RATIO`: fraction of a token's life after which it is renewed; 0 disables. */
  refreshAheadRatio?: number;
  /** `TOKEN_LOCK_LEASE_MS`: lease of the cross-instance grant lock, ms. */
  lockLeaseMs?: number;
  /** `TOKEN_LOCK_WAIT_MS`: how long a request waits for another instance's grant without seeing its lease renewed, ms. */
  lockWaitMs?: number;
  /** `TOKEN_MAX_FAILED_ATTEMPTS`: wrong secrets per client per window before 429. */
  maxFailedAttempts?: number;
  /** `TOKEN_FAILED_ATTEMPTS_WINDOW_MS`: window of `maxFailedAttempts`, ms. */
  failedAttemptsWindowMs?: number;
  /** `TOKEN_INVALID_CREDENTIALS_TTL_MS`: how long an invalid-credentials answer is remembered, ms. */
  invalidCredentialsTtlMs?: number;
  /** `TOKEN_KNOWN_GOOD_TTL_MS`: how long a secret that obtained a token is exempt from the throttle, ms. */
  knownGoodTtlMs?: number;
  /** `V3_JWKS_URL`, `V3_JWT_ISSUER`, `V3_JWT_AUDIENCE`: accept issuer-minted Bearer JWTs; unset without `V3_JWKS_URL`. */
  jwt?: { jwksUrl: string; issuer: string; audience: string };
}

/**
 * Every configuration problem found at boot, one line each (`Invalid configuration: VARIABLE: …`) that names the
 * variable and the fix. Never contains a secret.
 */
export class GatewayConfigError extends Error {
  /** The problems, one per line of `message`, without the `Invalid configuration: ` prefix. */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.map((problem) => `Invalid configuration: ${problem}`).join('\n'));
    this.name = 'GatewayConfigError';
    this.problems = list;
  }
}

const ROUTES_FORMAT = 'each entry is /prefix=http(s)://host[:port], comma-separated';
const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;
/** RFC 6749 §3.3: scope-tokens of printable ASCII except `"` and `\`, separated by single spaces. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** Variables whose values are never shown in an error message. */
const SECRET_VARIABLES = new Set([
  'V3_CLIENT_SECRET',
  'TOKEN_CACHE_HMAC_KEY',
  'TOKEN_CACHE_ENCRYPTION_KEY',
  'REDIS_URL',
]);

/** Marks an issue whose message already says all there is: the value is not repeated in front of it. */
const BARE = { bare: true };

const optionalText = z
  .string()
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

function integer(min: number, max: number, fix: string) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, { message: fix })
    .transform(Number)
    .pipe(z.number().int().min(min, { message: fix }).max(max, { message: fix }));
}

/** A decimal number from `min` up to, not including, `below` (`0.8`, `0`; no exponent, no sign). */
function decimal(min: number, below: number, fix: string) {
  return z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, { message: fix })
    .transform(Number)
    .pipe(z.number().min(min, { message: fix }).lt(below, { message: fix }));
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .trim()
    .pipe(z.enum(values, { message: `use one of ${values.join(', ')}` }));
}

function httpUrl(fix: string) {
  return z.string().trim().refine(isHttpUrl, { message: fix });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !url.username;
  } catch {
    return false;
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** Parses `GATEWAY_ROUTES`; reports the first bad entry through `ctx`. */
function parseRoutes(value: string, ctx: z.RefinementCtx): GatewayRoute[] {
  const routes: GatewayRoute[] = [];
  for (const entry of list(value)) {
    const separator = entry.indexOf('=');
    const prefix = separator > 0 ? entry.slice(0, separator).trim().replace(/\/+$/, '') : '';
    const target = separator > 0 ? entry.slice(separator + 1).trim() : '';
    const url = isHttpUrl(target) ? new URL(target) : undefined;
    let problem: string | undefined;
    if (!PREFIX.test(prefix) || !url || url.search !== '' || url.hash !== '') problem = ROUTES_FORMAT;
    else if (routes.some((route) => route.prefix === prefix))
      problem = `${prefix} is listed twice; list each prefix once`;
    else problem = reservedPathOf(prefix, RESERVED_PATHS);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" — ${problem}`, params: BARE });
      return z.NEVER;
    }
    routes.push({
      prefix,
      target: `${url!.origin}${url!.pathname.replace(/\/+$/, '')}`,
      scopes: [],
      public: false,
    });
  }
  if (routes.length === 0) {
    ctx.addIssue({ code: 'custom', message: `is empty — ${ROUTES_FORMAT}`, params: BARE });
    return z.NEVER;
  }
  return routes;
}

function hostPorts(variable: string) {
  return (value: string, ctx: z.RefinementCtx): string[] => {
    const nodes = list(value);
    const bad = nodes.find((node) => !HOST_PORT.test(node));
    if (nodes.length === 0 || bad !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${bad === undefined ? 'is empty' : `"${bad}" is not host:port`} — ${variable} is host:port,host:port`,
        params: BARE,
      });
      return z.NEVER;
    }
    return nodes;
  };
}

const envSchema = z
  .object({
    NODE_ENV: optionalText,
    PORT: integer(0, 65535, 'use a TCP port number from 0 to 65535').default(3000),
    HOST: z
      .string()
      .trim()
      .min(1, { message: 'use an interface address such as 0.0.0.0' })
      .default('0.0.0.0'),
    V3_TOKEN_URL: httpUrl(
      'use the http(s) URL of the token endpoint, e.g. https://issuer.example/token',
    ).optional(),
    V3_GRANT_TYPE: oneOf(['client_credentials', 'password']).default('client_credentials'),
    V3_CLIENT_AUTH: oneOf(['client_secret_post', 'client_secret_basic']).default('client_secret_post'),
    V3_CLIENT_ID: optionalText,
    V3_CLIENT_SECRET: optionalText,
    REDIS_URL: optionalText.refine((value) => value === undefined || /^rediss?:\/\/[^/]/.test(value), {
      message: 'use a redis:// or rediss:// URL, e.g. redis://redis:6379',
    }),
    REDIS_CLUSTER_NODES: optionalText.transform((value, ctx) =>
      value === undefined ? undefined : hostPorts('REDIS_CLUSTER_NODES')(value, ctx),
    ),
    REDIS_SENTINELS: optionalText.transform((value, ctx) =>
      value === undefined ? undefined : hostPorts('REDIS_SENTINELS')(value, ctx),
    ),
    REDIS_SENTINEL_NAME: optionalText,
    TOKEN_CACHE_HMAC_KEY: optionalText.refine((value) => value === undefined || value.length >= 32, {
      message: 'must be at least 32 characters, e.g. `openssl rand -base64 32`',
    }),
    TOKEN_CACHE_ENCRYPTION_KEY: optionalText.transform((value, ctx) => {
      if (value === undefined) return undefined;
      try {
        return parseEncryptionKeys(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message, params: BARE });
        return z.NEVER;
      }
    }),
    TOKEN_EXPIRY_SKEW_SECONDS: integer(0, 3600, 'use whole seconds from 0 to 3600').default(30),
    GATEWAY_ROUTES: z.string().transform(parseRoutes).optional(),
    GATEWAY_ROUTES_FILE: optionalText.transform((path, ctx) => {
      if (path === undefined) return undefined;
      try {
        return loadRoutesFile(path, RESERVED_PATHS);
      } catch (error) {
        if (!(error instanceof RoutesFileError)) throw error;
        ctx.addIssue({ code: 'custom', message: `${path}: ${error.message}`, params: BARE });
        return z.NEVER;
      }
    }),
    LOG_LEVEL: oneOf(LOG_LEVELS).default('info'),
    GATEWAY_UPSTREAM_TIMEOUT_MS: integer(1, 600_000, 'use milliseconds from 1 to 600000').default(30_000),
    GATEWAY_HEADERS_TIMEOUT_MS: integer(1, 600_000, 'use milliseconds from 1 to 600000').default(
      DEFAULT_EDGE_CONFIG.headersTimeoutMs,
    ),
    GATEWAY_REQUEST_TIMEOUT_MS: integer(1, 3_600_000, 'use milliseconds from 1 to 3600000').default(
      DEFAULT_EDGE_CONFIG.requestTimeoutMs,
    ),
    GATEWAY_BODY_IDLE_TIMEOUT_MS: integer(1, 600_000, 'use milliseconds from 1 to 600000').default(
      DEFAULT_EDGE_CONFIG.bodyIdleTimeoutMs,
    ),
    GATEWAY_KEEP_ALIVE_TIMEOUT_MS: integer(1, 600_000, 'use milliseconds from 1 to 600000').default(
      DEFAULT_EDGE_CONFIG.keepAliveTimeoutMs,
    ),
    GATEWAY_UPSTREAM_CONNECTIONS: integer(
      1,
      100_000,
      'use a whole number of connections from 1 to 100000',
    ).default(DEFAULT_EDGE_CONFIG.upstreamConnections),
    GATEWAY_QUEUE_TIMEOUT_MS: integer(0, 600_000, 'use milliseconds from 0 (no wait) to 600000').default(
      DEFAULT_EDGE_CONFIG.queueTimeoutMs,
    ),
    GATEWAY_MAX_INFLIGHT_PER_CLIENT: integer(
      0,
      100_000,
      'use a whole number of requests from 0 (no cap) to 100000',
    ).default(DEFAULT_EDGE_CONFIG.maxInflightPerClient),
    GATEWAY_SHUTDOWN_TIMEOUT_MS: integer(0, 600_000, 'use milliseconds from 0 to 600000').default(
      DEFAULT_EDGE_CONFIG.shutdownTimeoutMs,
    ),
    GATEWAY_TRUSTED_PROXIES: optionalText.transform((value, ctx) => {
      if (value === undefined) return TrustedProxies.NONE;
      try {
        return TrustedProxies.parse(value);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `${(error as Error).message} — GATEWAY_TRUSTED_PROXIES is a comma-separated list of CIDRs`,
          params: BARE,
        });
        return z.NEVER;
      }
    }),
    GATEWAY_COOKIES: oneOf(['strip', 'forward']).default(DEFAULT_EDGE_CONFIG.cookies),
    GATEWAY_ADMIN_PORT: integer(
      1,
      65535,
      'use a TCP port number from 1 to 65535, other than PORT',
    ).optional(),
    TOKEN_MEMORY_CACHE: oneOf(['true', 'false'])
      .transform((value) => value === 'true')
      .default(true),
    V3_TOKEN_TIMEOUT_MS: integer(1, 600_000, 'use milliseconds from 1 to 600000').optional(),
    V3_REVOCATION_URL: httpUrl(
      "use the http(s) URL of the issuer's revocation endpoint, e.g. https://issuer.example/revoke",
    ).optional(),
    GATEWAY_REAUTH_COOLDOWN_MS: integer(
      0,
      3_600_000,
      'use milliseconds from 0 (no cooldown) to 3600000',
    ).default(30_000),
    V3_SCOPE: optionalText.refine((value) => value === undefined || SCOPE.test(value), {
      message:
        'use scope names separated by single spaces, printable ASCII without " or \\, e.g. "read write"',
    }),
    V3_TOKEN_RETRY_ATTEMPTS: integer(
      1,
      10,
      'use a whole number of attempts from 1 (no retry) to 10, the first included',
    ).optional(),
    V3_TOKEN_BREAKER_THRESHOLD: integer(
      1,
      1000,
      'use a whole number of consecutive failures from 1 to 1000',
    ).optional(),
    V3_TOKEN_BREAKER_RESET_MS: integer(0, 600_000, 'use milliseconds from 0 to 600000').optional(),
    V3_TOKEN_MAX_CONCURRENCY: integer(
      1,
      10_000,
      'use a whole number of calls in flight from 1 to 10000',
    ).optional(),
    V3_TOKEN_QUEUE_SIZE: integer(
      0,
      1_000_000,
      'use a whole number of waiting calls from 0 (no queue) to 1000000',
    ).optional(),
    V3_TOKEN_QUEUE_WAIT_MS: integer(0, 600_000, 'use milliseconds from 0 to 600000').optional(),
    TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: integer(
      0,
      1_000_000,
      'use a whole number of grants per minute from 0 (no cap) to 1000000',
    ).optional(),
    V3_JWKS_URL: httpUrl("use the issuer's JWKS URL, e.g. https://issuer.example/certs").optional(),
    V3_JWT_ISSUER: optionalText,
    V3_JWT_AUDIENCE: optionalText,
    REDIS_KEY_PREFIX: optionalText.refine((value) => value === undefined || !/[{}]/.test(value), {
      message: 'must not contain { or } — the store adds its own hash tag; use e.g. myapp:v3t:',
    }),
    REDIS_COMMAND_TIMEOUT_MS: integer(1, 60_000, 'use milliseconds from 1 to 60000').optional(),
    TOKEN_MEMORY_CACHE_MAX_ENTRIES: integer(
      1,
      10_000_000,
      'use a whole number of entries from 1 to 10000000',
    ).optional(),
    TOKEN_REFRESH_AHEAD_RATIO: decimal(0, 1, 'use a number from 0 (off) to below 1, e.g. 0.8').optional(),
    TOKEN_LOCK_LEASE_MS: integer(100, 600_000, 'use milliseconds from 100 to 600000').optional(),
    TOKEN_LOCK_WAIT_MS: integer(0, 600_000, 'use milliseconds from 0 to 600000').optional(),
    TOKEN_MAX_FAILED_ATTEMPTS: integer(
      1,
      100_000,
      'use a whole number of attempts from 1 to 100000',
    ).optional(),
    TOKEN_FAILED_ATTEMPTS_WINDOW_MS: integer(
      1,
      86_400_000,
      'use milliseconds from 1 to 86400000 (one day)',
    ).optional(),
    TOKEN_INVALID_CREDENTIALS_TTL_MS: integer(
      0,
      3_600_000,
      'use milliseconds from 0 (off) to 3600000',
    ).optional(),
    TOKEN_KNOWN_GOOD_TTL_MS: integer(
      1,
      31_536_000_000,
      'use milliseconds from 1 to 31536000000 (one year)',
    ).optional(),
  })
  .superRefine((env, ctx) => {
    const production = env.NODE_ENV === 'production';
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message, params: BARE });
    if (env.GATEWAY_ROUTES === undefined && env.GATEWAY_ROUTES_FILE === undefined) {
      issue(
        'GATEWAY_ROUTES',
        `is required — ${ROUTES_FORMAT}, e.g. /v3=http://platform:8080 (or set GATEWAY_ROUTES_FILE to a routes file)`,
      );
    }
    if (production && env.V3_TOKEN_URL === undefined) {
      issue('V3_TOKEN_URL', 'is required in production — the http(s) URL of the token endpoint');
    }
    if (env.V3_GRANT_TYPE === 'password') {
      if (!env.V3_CLIENT_ID)
        issue('V3_CLIENT_ID', "is required with V3_GRANT_TYPE=password — the gateway's own client id");
      if (!env.V3_CLIENT_SECRET)
        issue(
          'V3_CLIENT_SECRET',
          "is required with V3_GRANT_TYPE=password — the gateway's own client secret",
        );
    }
    const jwtVariables = {
      V3_JWKS_URL: env.V3_JWKS_URL,
      V3_JWT_ISSUER: env.V3_JWT_ISSUER,
      V3_JWT_AUDIENCE: env.V3_JWT_AUDIENCE,
    };
    if (Object.values(jwtVariables).some((value) => value !== undefined)) {
      for (const [name, value] of Object.entries(jwtVariables)) {
        if (!value) {
          issue(
            name,
            'is required to accept issuer JWTs — set V3_JWKS_URL, V3_JWT_ISSUER and V3_JWT_AUDIENCE together',
          );
        }
      }
    }
    if (env.GATEWAY_HEADERS_TIMEOUT_MS > env.GATEWAY_REQUEST_TIMEOUT_MS) {
      issue(
        'GATEWAY_HEADERS_TIMEOUT_MS',
        'must not exceed GATEWAY_REQUEST_TIMEOUT_MS — the head is part of the request',
      );
    }
    if (env.GATEWAY_ADMIN_PORT !== undefined && env.GATEWAY_ADMIN_PORT === env.PORT) {
      issue('GATEWAY_ADMIN_PORT', 'must differ from PORT — pick a port of its own, e.g. 9090');
    }
    const redisSources = [env.REDIS_URL, env.REDIS_CLUSTER_NODES, env.REDIS_SENTINELS].filter(
      (v) => v !== undefined,
    );
    if (redisSources.length > 1) {
      issue('REDIS_URL', 'set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS');
    }
    if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_NAME) {
      issue(
        'REDIS_SENTINEL_NAME',
        'is required with REDIS_SENTINELS — the Sentinel master group name, e.g. mymaster',
      );
    }
    if (production && redisSources.length > 0 && !env.TOKEN_CACHE_HMAC_KEY) {
      issue(
        'TOKEN_CACHE_HMAC_KEY',
        'is required in production with Redis — at least 32 characters shared by every instance, e.g. `openssl rand -base64 32`',
      );
    }
  });

/**
 * The environment with at most one source of routes: `GATEWAY_ROUTES` and `GATEWAY_ROUTES_FILE` both set stops boot;
 * a blank `GATEWAY_ROUTES` beside a routes file counts as unset.
 */
function withOneRoutesSource(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const inline = env.GATEWAY_ROUTES !== undefined && env.GATEWAY_ROUTES.trim() !== '';
  const file = env.GATEWAY_ROUTES_FILE !== undefined && env.GATEWAY_ROUTES_FILE.trim() !== '';
  if (inline && file) {
    throw new GatewayConfigError(
      'GATEWAY_ROUTES and GATEWAY_ROUTES_FILE are both set — set one: GATEWAY_ROUTES for prefix=URL pairs, GATEWAY_ROUTES_FILE for routes with scopes, audience, public or timeoutMs',
    );
  }
  return file && env.GATEWAY_ROUTES !== undefined ? { ...env, GATEWAY_ROUTES: undefined } : env;
}

/** Hides the user-info part of a URL (`//user:pass@host` → `//***@host`). */
function masked(value: string): string {
  return value.replace(/\/\/[^/@\s]*@/g, '//***@');
}

function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const variable = variableOf(issue);
  const raw = env[variable];
  const bare = issue.code === 'custom' && (issue.params as { bare?: boolean } | undefined)?.bare === true;
  if (bare || raw === undefined || SECRET_VARIABLES.has(variable)) {
    return `${variable}: ${masked(issue.message)}`;
  }
  return `${variable}: "${masked(raw.trim())}" — ${issue.message}`;
}

function variableOf(issue: z.core.$ZodIssue): string {
  return String(issue.path[0] ?? 'environment');
}

/**
 * Every problem of `env`, one line each. A bad variable stops zod before the checks between variables, so these run
 * again with the bad ones left out (as if unset); what they find about the other variables is added.
 */
function configurationProblems(issues: readonly z.core.$ZodIssue[], env: Record<string, string | undefined>) {
  const bad = new Set(issues.map(variableOf));
  const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !bad.has(name)));
  const again = envSchema.safeParse(rest);
  const stoodIn = new Set([...bad].flatMap((name) => STANDS_IN_FOR[name] ?? []));
  const hidden = again.success
    ? []
    : again.error.issues.filter((issue) => !bad.has(variableOf(issue)) && !stoodIn.has(variableOf(issue)));
  return [...issues, ...hidden].map((issue) => describeIssue(issue, env));
}

/**
 * Variables a set one replaces: left out because it is bad, it must not make the second pass ask for these
 * (a bad `GATEWAY_ROUTES_FILE` is not also a missing `GATEWAY_ROUTES`).
 */
const STANDS_IN_FOR: Readonly<Record<string, readonly string[]>> = {
  GATEWAY_ROUTES_FILE: ['GATEWAY_ROUTES'],
};

/**
 * Maps environment variables to a typed `GatewayConfig`. Throws `GatewayConfigError` listing every bad variable,
 * one line each, with how to fix it; secret values are never part of the message.
 */
export function parseGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  const parsed = envSchema.safeParse(withOneRoutesSource(env));
  if (!parsed.success) {
    throw new GatewayConfigError(configurationProblems(parsed.error.issues, env));
  }
  const value = parsed.data;
  const production = value.NODE_ENV === 'production';
  let redis: GatewayRedisConfig | undefined;
  if (value.REDIS_URL) redis = { url: value.REDIS_URL };
  else if (value.REDIS_CLUSTER_NODES) redis = { clusterNodes: value.REDIS_CLUSTER_NODES };
  else if (value.REDIS_SENTINELS)
    redis = { sentinel: { name: value.REDIS_SENTINEL_NAME as string, sentinels: value.REDIS_SENTINELS } };
  if (redis && value.REDIS_COMMAND_TIMEOUT_MS !== undefined) {
    redis.commandTimeoutMs = value.REDIS_COMMAND_TIMEOUT_MS;
  }

  return {
    nodeEnv: value.NODE_ENV ?? 'development',
    port: value.PORT,
    host: value.HOST,
    tokenUrl: value.V3_TOKEN_URL ?? (production ? '' : SANDBOX_TOKEN_URL),
    grantType: value.V3_GRANT_TYPE,
    clientAuthMethod: value.V3_CLIENT_AUTH,
    clientId: value.V3_CLIENT_ID,
    clientSecret: value.V3_CLIENT_SECRET,
    redis,
    hmacKey: value.TOKEN_CACHE_HMAC_KEY,
    encryptionKeys: value.TOKEN_CACHE_ENCRYPTION_KEY,
    expirySkewSeconds: value.TOKEN_EXPIRY_SKEW_SECONDS,
    routes: value.GATEWAY_ROUTES ?? value.GATEWAY_ROUTES_FILE ?? [],
    logLevel: value.LOG_LEVEL,
    upstreamTimeoutMs: value.GATEWAY_UPSTREAM_TIMEOUT_MS,
    edge: {
      headersTimeoutMs: value.GATEWAY_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: value.GATEWAY_REQUEST_TIMEOUT_MS,
      bodyIdleTimeoutMs: value.GATEWAY_BODY_IDLE_TIMEOUT_MS,
      keepAliveTimeoutMs: value.GATEWAY_KEEP_ALIVE_TIMEOUT_MS,
      upstreamConnections: value.GATEWAY_UPSTREAM_CONNECTIONS,
      queueTimeoutMs: value.GATEWAY_QUEUE_TIMEOUT_MS,
      maxInflightPerClient: value.GATEWAY_MAX_INFLIGHT_PER_CLIENT,
      shutdownTimeoutMs: value.GATEWAY_SHUTDOWN_TIMEOUT_MS,
      trustedProxies: value.GATEWAY_TRUSTED_PROXIES,
      cookies: value.GATEWAY_COOKIES,
      adminPort: value.GATEWAY_ADMIN_PORT,
    },
    memoryCache: value.TOKEN_MEMORY_CACHE,
    tokenTimeoutMs: value.V3_TOKEN_TIMEOUT_MS,
    revocationUrl: value.V3_REVOCATION_URL,
    reauthCooldownMs: value.GATEWAY_REAUTH_COOLDOWN_MS,
    scope: value.V3_SCOPE,
    retryAttempts: value.V3_TOKEN_RETRY_ATTEMPTS,
    breakerFailureThreshold: value.V3_TOKEN_BREAKER_THRESHOLD,
    breakerResetTimeoutMs: value.V3_TOKEN_BREAKER_RESET_MS,
    tokenMaxConcurrency: value.V3_TOKEN_MAX_CONCURRENCY,
    tokenQueueSize: value.V3_TOKEN_QUEUE_SIZE,
    tokenQueueWaitMs: value.V3_TOKEN_QUEUE_WAIT_MS,
    coldGrantsPerAddressPerMinute: value.TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE,
    keyPrefix: value.REDIS_KEY_PREFIX,
    memoryCacheMaxEntries: value.TOKEN_MEMORY_CACHE_MAX_ENTRIES,
    refreshAheadRatio: value.TOKEN_REFRESH_AHEAD_RATIO,
    lockLeaseMs: value.TOKEN_LOCK_LEASE_MS,
    lockWaitMs: value.TOKEN_LOCK_WAIT_MS,
    maxFailedAttempts: value.TOKEN_MAX_FAILED_ATTEMPTS,
    failedAttemptsWindowMs: value.TOKEN_FAILED_ATTEMPTS_WINDOW_MS,
    invalidCredentialsTtlMs: value.TOKEN_INVALID_CREDENTIALS_TTL_MS,
    knownGoodTtlMs: value.TOKEN_KNOWN_GOOD_TTL_MS,
    jwt:
      value.V3_JWKS_URL && value.V3_JWT_ISSUER && value.V3_JWT_AUDIENCE
        ? { jwksUrl: value.V3_JWKS_URL, issuer: value.V3_JWT_ISSUER, audience: value.V3_JWT_AUDIENCE }
        : undefined,
  };
}

/** `@nestjs/config` `validate`: the environment plus the typed config under `GATEWAY_CONFIG`. */
export function validateGatewayEnv(env: Record<string, unknown>): Record<string, unknown> {
  const strings = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
  return { [GATEWAY_CONFIG]: parseGatewayConfig(strings) };
}

/**
 * The `ConfigModule` of the gateway: validates the environment (`validateGatewayEnv`) or, given a config, holds
 * that one (tests and benchmarks build the app without touching the environment). Awaiting it runs the validation,
 * so a bad environment fails before Nest starts.
 */
export function gatewayConfigModule(config?: GatewayConfig): Promise<DynamicModule> {
  const options: ConfigModuleOptions = config
    ? {
        isGlobal: true,
        ignoreEnvFile: true,
        validatePredefined: false,
        skipProcessEnv: true,
        load: [() => ({ [GATEWAY_CONFIG]: config })],
      }
    : { isGlobal: true, ignoreEnvFile: true, validate: validateGatewayEnv };
  return ConfigModule.forRoot(options);
}
