import type { IncomingMessage } from 'node:http';

/** RFC 3986 `host [ ":" port ]`: an IP-literal, or a reg-name / IPv4 address (unreserved, pct-encoded, sub-delims). */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/**
 * Why the `Host` of `request` is refused (RFC 9112 §3.2: a 400 for more than one `Host` line or an invalid value),
 * or undefined when it is fine or absent (node:http itself refuses an HTTP/1.1 request without one). The value is
 * what the downstream receives as `X-Forwarded-Host` and `Forwarded: host=`.
 */
export function hostProblemOf(request: IncomingMessage): string | undefined {
  const host = request.headers.host;
  if (host === undefined) return undefined;
  if (!HOST.test(host)) return 'The Host header is not a valid host[:port]';
  const raw = request.rawHeaders;
  let seen = 0;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index];
    if (name.length === 4 && name.toLowerCase() === 'host' && ++seen > 1)
      return 'The request has more than one Host header; send one';
  }
  return undefined;
}
