import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

/** Hop-by-hop headers: the least any proxy drops, in both directions. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

/**
 * The keep-alive pool to the downstream the bench gives a proxy child in `BENCH_UPSTREAM`: 128 connections, no
 * pipelining, as the gateway's own `Downstream` pool.
 */
export function upstreamPool(upstream: string | undefined = process.env.BENCH_UPSTREAM): Pool {
  if (!upstream) throw new Error('BENCH_UPSTREAM (the downstream base URL) is required');
  return new Pool(upstream, { connections: 128, pipelining: 1 });
}

/** The caller's end-to-end request headers for the downstream: hop-by-hop ones and `Host` left out. */
export function forwardedHeaders(incoming: IncomingHttpHeaders): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value !== undefined && name !== 'host' && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  return headers;
}

/**
 * The stream factory of `Pool.stream()` when `opaque` is the caller's response: starts it with the downstream's
 * status and end-to-end headers and returns it, so the body is written straight into it.
 */
export function startAnswer({
  statusCode,
  headers,
  opaque,
}: Dispatcher.StreamFactoryData<ServerResponse>): ServerResponse {
  opaque.statusCode = statusCode;
  for (const name in headers) if (!HOP_BY_HOP.has(name)) opaque.setHeader(name, headers[name]!);
  return opaque;
}
