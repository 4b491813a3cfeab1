import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Header that carries the request id in and out of the gateway. */
export const REQUEST_ID_HEADER = 'x-request-id';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const REQUEST_ID = Symbol('requestId');

/** A raw HTTP request (HTTP/1 or HTTP/2). */
export interface RawRequest {
  headers: IncomingHttpHeaders;
  [REQUEST_ID]?: string;
}

/**
 * The id of a request: a sane incoming `x-request-id` (letters, digits, `._:-`, at most 128), else a random UUID.
 * Computed once per request, so Fastify, the access log and the proxy all see the same value.
 */
export function requestIdOf(request: RawRequest): string {
  let id = request[REQUEST_ID];
  if (id === undefined) {
    id = newRequestId(request.headers);
    request[REQUEST_ID] = id;
  }
  return id;
}

/**
 * A request id for `headers` as `requestIdOf` chooses it, not remembered on the request: for the data plane, which
 * keeps it on its own exchange (a property added to Node's `IncomingMessage` would give every request a second shape).
 */
export function newRequestId(headers: IncomingHttpHeaders): string {
  const incoming = headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
