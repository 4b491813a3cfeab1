import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

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

/** Set by the gateway on every request to the downstream; a caller's own values are replaced. */
const SET_BY_GATEWAY = new Set([
  'authorization',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

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
  skip?: ReadonlySet<string>,
): void {
  const named = namedByConnection(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || skip?.has(name) || named?.has(name)) continue;
    target[name] = value;
  }
}

/** What the downstream learns about the original request. */
export interface ForwardedFrom {
  /** The caller's address (the TCP peer of the gateway). */
  remoteAddress: string | undefined;
  /** `http` or `https`, as the gateway was reached. */
  protocol: string;
  /** The `Host` the caller asked for. */
  host: string | undefined;
  requestId: string;
}

/**
 * Request headers for the downstream, as a new object: the caller's end-to-end headers, with `Authorization`
 * replaced by the relayed bearer token, `X-Forwarded-For` appended to, `X-Forwarded-Proto`, `-Host` and
 * `X-Request-Id` set. `Host` is left out: the HTTP client sets the downstream's own.
 */
export function toDownstreamHeaders(
  incoming: IncomingHttpHeaders,
  accessToken: string,
  from: ForwardedFrom,
): Record<string, string | string[]> {
  const headers: Record<string, HeaderValue> = {};
  copyEndToEnd(incoming, headers, SET_BY_GATEWAY);
  headers.authorization = `Bearer ${accessToken}`;
  const prior = incoming['x-forwarded-for'];
  if (from.remoteAddress !== undefined) {
    headers['x-forwarded-for'] = prior ? `${String(prior)}, ${from.remoteAddress}` : from.remoteAddress;
  } else if (prior !== undefined) {
    headers['x-forwarded-for'] = prior;
  }
  headers['x-forwarded-proto'] = from.protocol;
  if (from.host !== undefined) headers['x-forwarded-host'] = from.host;
  headers['x-request-id'] = from.requestId;
  return headers as Record<string, string | string[]>;
}

/** Response headers for the caller, as a new object: the downstream's end-to-end headers. */
export function toCallerHeaders(downstream: Record<string, HeaderValue>): OutgoingHttpHeaders {
  const headers: Record<string, HeaderValue> = {};
  copyEndToEnd(downstream, headers);
  return headers;
}
