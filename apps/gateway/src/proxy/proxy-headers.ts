import type { IncomingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), proxy credentials and `expect` (the gateway answers `100-continue`
 * itself): never forwarded in either direction.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'expect',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Set by the gateway on every request to the downstream, or passed on only from a trusted proxy: a caller's own
 * values never reach the downstream as they are. `X-Original-URL` and `X-Rewrite-URL` (path overrides some
 * frameworks honour) and the method overrides (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`, which
 * would carry a method the edge refuses) are always dropped.
 */
const SET_BY_GATEWAY = new Set([
  'authorization',
  'host',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-request-id',
]);

/**
 * Who the user is, as an authenticating proxy in front of an app tells it (oauth2-proxy, Apache's `REMOTE_USER`,
 * nginx `auth_request`): the gateway authenticates clients and relays a token, so no caller's value of these may
 * reach a downstream that might take it for the gateway's word. Always dropped.
 */
const IDENTITY_HEADERS = [
  'remote-user',
  'x-remote-user',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-forwarded-groups',
  'x-forwarded-access-token',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-preferred-username',
  'x-auth-request-groups',
  'x-auth-request-access-token',
];

/**
 * Other names frameworks and CDNs read the client address, scheme, host or path from (Rack, Django, Spring, Cloudflare,
 * Akamai, Envoy): dropped from a caller that is not a trusted proxy, whose `X-Forwarded-*` the gateway replaces too;
 * a trusted proxy's are passed on.
 */
const FORWARDING_ALIASES = [
  'true-client-ip',
  'x-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-forwarded-protocol',
  'x-url-scheme',
  'front-end-https',
  'x-original-host',
  'x-host',
  'x-forwarded-server',
  'x-forwarded-uri',
  'x-forwarded-path',
  'x-original-method',
  'x-envoy-original-path',
  'x-forwarded-client-cert',
];

const FROM_TRUSTED = [...SET_BY_GATEWAY, ...IDENTITY_HEADERS];
const FROM_CALLER = [...FROM_TRUSTED, ...FORWARDING_ALIASES];

/**
 * What a request leaves out, by whether it came from a trusted proxy and by cookie policy (`strip` adds the caller's
 * cookies): one set each, chosen per request.
 */
const LEFT_OUT: Record<'trusted' | 'caller', Record<CookiePolicy, ReadonlySet<string>>> = {
  trusted: { forward: new Set(FROM_TRUSTED), strip: new Set([...FROM_TRUSTED, 'cookie']) },
  caller: { forward: new Set(FROM_CALLER), strip: new Set([...FROM_CALLER, 'cookie']) },
};

/**
 * What the caller's answer never takes from the downstream's: its `X-Request-Id` (the gateway's own, in its logs and
 * sent downstream, stays), and under `GATEWAY_COOKIES=strip` its cookies.
 */
const NOT_ANSWERED: Record<CookiePolicy, ReadonlySet<string>> = {
  forward: new Set(['x-request-id']),
  strip: new Set(['x-request-id', 'set-cookie']),
};

/** `GATEWAY_COOKIES`: `strip` keeps `Cookie` from the downstream and `Set-Cookie` from the caller; `forward` passes both. */
export type CookiePolicy = 'strip' | 'forward';

type HeaderValue = string | string[] | number | undefined;

/**
 * The extra hop-by-hop headers a `Connection` header names (`Connection: close, X-Trace` makes `x-trace` one),
 * or `undefined` when it names none beyond `close` and `keep-alive`.
 */
function namedByConnection(connection: HeaderValue): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const value = Array.isArray(connection) ? connection.join(',') : String(connection);
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return undefined;
  const names = lower
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '' && name !== 'close' && name !== 'keep-alive');
  return names.length > 0 ? new Set(names) : undefined;
}

/**
 * Copies the end-to-end headers of `headers` into `target`: hop-by-hop headers, those the `Connection` header
 * names and those in `skip` are left out. Names are expected in lower case, as Node and undici give them.
 */
function copyEndToEnd(
  headers: Record<string, HeaderValue>,
  target: Record<string, HeaderValue>,
  skip: ReadonlySet<string>,
): void {
  const named = namedByConnection(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && isEndToEnd(name, skip, named) && !dashedIn(name, skip)) target[name] = value;
  }
}

/**
 * Whether `name` spelled with underscores reads, with dashes, as one in `skip`: CGI, WSGI, Rack and PHP turn both
 * `X-Real-IP` and `X_Real_IP` into `HTTP_X_REAL_IP`, so the underscore form would pass for the header it mimics.
 */
function dashedIn(name: string, skip: ReadonlySet<string>): boolean {
  if (!name.includes('_')) return false;
  const dashed = name.replaceAll('_', '-');
  return skip.has(dashed) || HOP_BY_HOP.has(dashed);
}

/** Whether header `name` is relayed: not hop-by-hop, not named by `Connection` (`named`), not in `skip`. */
function isEndToEnd(
  name: string,
  skip: ReadonlySet<string> | undefined,
  named: Set<string> | undefined,
): boolean {
  return !HOP_BY_HOP.has(name) && !skip?.has(name) && !named?.has(name);
}

/** What the downstream learns about the original request. */
export interface ForwardedFrom {
  /** The TCP peer of the gateway. */
  remoteAddress: string | undefined;
  /** Whether that peer is a trusted proxy (`GATEWAY_TRUSTED_PROXIES`): its forwarding headers are kept. */
  fromTrustedProxy: boolean;
  /** The caller address as `TrustedProxies.callerAddress` defines it; sent as `X-Real-IP`. */
  callerAddress: string;
  /** `http` or `https`, as the gateway was reached. */
  protocol: string;
  /** The `Host` the caller asked for. */
  host: string | undefined;
  requestId: string;
}

function firstOf(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value === undefined ? undefined : String(value);
}

/**
 * Request headers for the downstream, as a new object: the caller's end-to-end headers, with `Authorization`
 * replaced by the relayed bearer token (left out without one: public routes) and `X-Request-Id` set. Forwarding headers follow `from.fromTrustedProxy`:
 * - from anyone else, `X-Forwarded-For` is the TCP peer, `X-Forwarded-Proto`/`-Host` what the gateway saw,
 *   `Forwarded` one element of the same (`for=…;host="…";proto=…`), `X-Real-IP` the peer; `X-Forwarded-Port` and
 *   `X-Forwarded-Prefix` are dropped;
 * - from a trusted proxy, the peer is appended to `X-Forwarded-For` (and as `for=` to `Forwarded`, when sent),
 *   its `X-Forwarded-Proto`/`-Host`/`-Port`/`-Prefix` are kept, and `X-Real-IP` is the caller address.
 * The other names of the same (`True-Client-IP`, `X-Forwarded-Scheme` …: `FORWARDING_ALIASES`) are dropped from
 * anyone but a trusted proxy, the authenticating-proxy identity headers (`X-Forwarded-User`, `Remote-User` …) from
 * everyone, and so is the underscore spelling (`X_Real_IP`) of every header left out.
 * `Host` is left out: the HTTP client sets the downstream's own.
 */
export function toDownstreamHeaders(
  incoming: IncomingHttpHeaders,
  accessToken: string | undefined,
  from: ForwardedFrom,
  cookies: CookiePolicy = 'forward',
): Record<string, string | string[]> {
  const headers: Record<string, HeaderValue> = {};
  copyEndToEnd(incoming, headers, LEFT_OUT[from.fromTrustedProxy ? 'trusted' : 'caller'][cookies]);
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  const peer = from.remoteAddress;
  if (from.fromTrustedProxy) {
    const prior = incoming['x-forwarded-for'];
    const chain = Array.isArray(prior) ? prior.join(', ') : prior;
    headers['x-forwarded-for'] = chain ? `${chain}, ${peer}` : peer;
    const forwarded = incoming.forwarded;
    if (forwarded !== undefined) headers.forwarded = `${forwarded}, for=${forwardedNode(peer)}`;
    headers['x-forwarded-proto'] = firstOf(incoming['x-forwarded-proto']) ?? from.protocol;
    const host = firstOf(incoming['x-forwarded-host']) ?? from.host;
    if (host !== undefined) headers['x-forwarded-host'] = host;
    const port = incoming['x-forwarded-port'];
    if (port !== undefined) headers['x-forwarded-port'] = port;
    const prefix = incoming['x-forwarded-prefix'];
    if (prefix !== undefined) headers['x-forwarded-prefix'] = prefix;
  } else {
    if (peer !== undefined) headers['x-forwarded-for'] = peer;
    headers['x-forwarded-proto'] = from.protocol;
    if (from.host !== undefined) headers['x-forwarded-host'] = from.host;
    headers.forwarded = forwardedElement(peer, from.host, from.protocol);
  }
  headers['x-real-ip'] = from.callerAddress;
  headers['x-request-id'] = from.requestId;
  return headers as Record<string, string | string[]>;
}

/** RFC 7239 §4: one `Forwarded` element for the request the gateway received. */
function forwardedElement(peer: string | undefined, host: string | undefined, protocol: string): string {
  const element = `for=${forwardedNode(peer)};proto=${protocol}`;
  return host === undefined ? element : `${element};host=${quotedString(host)}`;
}

/** An RFC 9110 quoted-string: `"` and `\` escaped (a `Host` seldom holds either: no regex then). */
function quotedString(value: string): string {
  if (!value.includes('"') && !value.includes('\\')) return `"${value}"`;
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** RFC 7239 §6: an IPv6 node is quoted and bracketed. */
function forwardedNode(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.includes(':') ? `"[${address}]"` : address;
}

/** What the caller's answer is set on: a `ServerResponse` before its head is written. */
export interface CallerAnswer {
  setHeader(name: string, value: number | string | readonly string[]): unknown;
}

/**
 * Sets the downstream's end-to-end headers (`Set-Cookie` per `cookies`) on the caller's answer, one `setHeader` each
 * with no object in between.
 */
export function setCallerHeaders(
  answer: CallerAnswer,
  downstream: Record<string, HeaderValue>,
  cookies: CookiePolicy = 'forward',
): void {
  const skip = NOT_ANSWERED[cookies];
  const named = namedByConnection(downstream.connection);
  for (const name in downstream) {
    const value = downstream[name];
    if (value !== undefined && isEndToEnd(name, skip, named)) answer.setHeader(name, value);
  }
}
