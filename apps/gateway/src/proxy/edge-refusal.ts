/**
 * Why the edge answered a request itself instead of proxying it — a bounded set, used as the `reason` label of
 * `gateway_edge_refusals_total` and in the aggregated refusal warnings:
 * - `bad_path` (400): the path leaves its route or reads as another route's (dot segments, encoded separators,
 *   malformed percent-encoding, a fragment), or a bad absolute-form target;
 * - `bad_host` (400): no `Host` header on HTTP/1.1, more than one, or one that is not a valid `host[:port]`;
 * - `bad_version` (505): an HTTP version other than 1.0 and 1.1;
 * - `bad_encoding` (501): a `Transfer-Encoding` other than chunked (`gzip, chunked`);
 * - `method` (405): a method no route relays (`TRACE`, `CONNECT`, WebDAV's …);
 * - `client_cap` (429): the caller address already has `GATEWAY_MAX_INFLIGHT_PER_CLIENT` requests on the route;
 * - `queue_timeout` (503): no downstream connection came free within `GATEWAY_QUEUE_TIMEOUT_MS`;
 * - `body_idle_timeout` (408): the request body sent nothing for `GATEWAY_BODY_IDLE_TIMEOUT_MS`;
 * - `request_timeout` (408): the request head or the whole request took longer than `GATEWAY_HEADERS_TIMEOUT_MS` /
 *   `GATEWAY_REQUEST_TIMEOUT_MS`.
 */
export type EdgeRefusalReason =
  | 'bad_path'
  | 'bad_host'
  | 'bad_version'
  | 'bad_encoding'
  | 'method'
  | 'client_cap'
  | 'queue_timeout'
  | 'body_idle_timeout'
  | 'request_timeout';

/** Every {@link EdgeRefusalReason}, for metrics that pre-create their series. */
export const EDGE_REFUSAL_REASONS: readonly EdgeRefusalReason[] = [
  'bad_path',
  'bad_host',
  'bad_version',
  'bad_encoding',
  'method',
  'client_cap',
  'queue_timeout',
  'body_idle_timeout',
  'request_timeout',
];

/** What each refusal means, for the aggregated warning line. */
export const EDGE_REFUSAL_TEXT: Record<EdgeRefusalReason, string> = {
  bad_path: 'its path leaves its route, reads as another route or its target is not origin-form (400)',
  bad_host: 'its Host header is missing, repeated or malformed (400)',
  bad_version: 'it is not HTTP/1.0 or HTTP/1.1 (505)',
  bad_encoding: 'its Transfer-Encoding is not chunked (501)',
  method: 'no route relays its method (405)',
  client_cap: 'it already has the most requests in flight a caller may have on the route (429)',
  queue_timeout: 'no downstream connection came free in time (503)',
  body_idle_timeout: 'its body sent nothing for too long (408)',
  request_timeout: 'its head or whole request took too long (408)',
};
