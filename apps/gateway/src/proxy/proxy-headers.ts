import type { IncomingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and proxy credentials: never forwarded in either direction. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
] as const;

type Headers = Record<string, string | string[] | number | undefined>;

/** Removes hop-by-hop headers in place; returns `headers`. */
export function dropHopByHop<T extends Headers>(headers: T): T {
  for (const name of HOP_BY_HOP) {
    if (headers[name] !== undefined) delete headers[name];
  }
  return headers;
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
 * Request headers for the downstream: the caller's `Authorization` replaced by the relayed bearer token,
 * hop-by-hop headers dropped, `X-Forwarded-For` (appended), `-Proto`, `-Host` and `X-Request-Id` set.
 * Mutates and returns `headers` (a copy of the caller's headers made by @fastify/reply-from).
 */
export function toDownstreamHeaders(
  headers: IncomingHttpHeaders,
  accessToken: string,
  from: ForwardedFrom,
): IncomingHttpHeaders {
  dropHopByHop(headers);
  headers.authorization = `Bearer ${accessToken}`;
  const prior = headers['x-forwarded-for'];
  if (from.remoteAddress !== undefined) {
    headers['x-forwarded-for'] = prior ? `${String(prior)}, ${from.remoteAddress}` : from.remoteAddress;
  }
  headers['x-forwarded-proto'] = from.protocol;
  if (from.host !== undefined) headers['x-forwarded-host'] = from.host;
  headers['x-request-id'] = from.requestId;
  return headers;
}
