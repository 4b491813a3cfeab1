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
    const incoming = request.headers[REQUEST_ID_HEADER];
    id = typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    request[REQUEST_ID] = id;
  }
  return id;
}
