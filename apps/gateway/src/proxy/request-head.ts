import type { IncomingMessage } from 'node:http';

/**
 * A `Host` the gateway passes on (`X-Forwarded-Host`, `Forwarded: host=`): a bracketed IP literal, or a DNS name or
 * IPv4 address (letters, digits, `-._~`), then an optional port. RFC 3986 also allows sub-delimiters and
 * percent-encoding in a reg-name; no DNS name holds them, and a `,` or `;` would read as a list or a parameter in the
 * headers the value is relayed in.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~]+)(?::[0-9]{1,5})?$/;
const HIGHEST_PORT = 65_535;

/** Whether the port of a `host` that matched `HOST` is above 65535; read in place (this runs per request). */
function portTooHigh(host: string): boolean {
  const colon = host.lastIndexOf(':');
  if (colon === -1 || colon < host.lastIndexOf(']')) return false;
  let port = 0;
  for (let at = colon + 1; at < host.length; at++) port = port * 10 + host.charCodeAt(at) - 0x30;
  return port > HIGHEST_PORT;
}

/** Why the edge refuses a request head before anything else reads it. */
export interface HeadProblem {
  /** 400 for the `Host`, 501 for a transfer coding other than chunked, 505 for an HTTP version other than 1.0 and 1.1. */
  status: 400 | 501 | 505;
  reason: 'bad_host' | 'bad_encoding' | 'bad_version';
  message: string;
}

const NOT_HTTP_1: HeadProblem = {
  status: 505,
  reason: 'bad_version',
  message: 'The gateway speaks HTTP/1.0 and HTTP/1.1 only',
};
const UNKNOWN_CODING: HeadProblem = {
  status: 501,
  reason: 'bad_encoding',
  message:
    'The only Transfer-Encoding the gateway takes is chunked; send the body unencoded or with Content-Encoding',
};
const NO_HOST: HeadProblem = {
  status: 400,
  reason: 'bad_host',
  message: 'An HTTP/1.1 request needs a Host header',
};
const BAD_HOST: HeadProblem = {
  status: 400,
  reason: 'bad_host',
  message: 'The Host header is not a valid host[:port]',
};
const REPEATED_HOST: HeadProblem = {
  status: 400,
  reason: 'bad_host',
  message: 'The request has more than one Host header; send one',
};

/**
 * What is wrong with the head of `request`, or undefined when nothing is: an HTTP version other than 1.0 or 1.1
 * (llhttp parses `HTTP/2.0` and a request line without a version), an HTTP/1.1 request without `Host`, more than one
 * `Host` line, or one that is not a valid `host[:port]` (RFC 9112 §3.2: a 400 for each), and a transfer coding
 * other than `chunked` (RFC 9112 §6.1: a 501; node:http removes the chunked coding and would pass a `gzip, chunked`
 * body on still compressed, without saying so). node:http's own check (`requireHostHeader`) is off on the gateway's
 * listeners: it answered a bare 400 with no body.
 */
export function headProblemOf(request: IncomingMessage): HeadProblem | undefined {
  if (request.httpVersionMajor !== 1 || request.httpVersionMinor > 1) return NOT_HTTP_1;
  const coding = request.headers['transfer-encoding'];
  if (coding !== undefined && coding !== 'chunked' && coding.toLowerCase() !== 'chunked')
    return UNKNOWN_CODING;
  const host = request.headers.host;
  if (host === undefined) return request.httpVersionMinor === 1 ? NO_HOST : undefined;
  if (!HOST.test(host) || portTooHigh(host)) return BAD_HOST;
  const raw = request.rawHeaders;
  let seen = 0;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index];
    if (name.length === 4 && name.toLowerCase() === 'host' && ++seen > 1) return REPEATED_HOST;
  }
  return undefined;
}
