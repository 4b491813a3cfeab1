import type { RoutePrefixes } from './route-prefixes.js';

/** Why a request target was refused; the proxy answers it as a 400 with this message. */
export interface RefusedTarget {
  refused: string;
}

const OUTSIDE_ROUTE =
  'The request path leaves its route once dot segments are resolved; send a normalized path';
const ENCODED_SEPARATOR =
  'The request path contains an encoded slash, backslash or dot segment; send the path unencoded and normalized';
const AUTHORITY_MISMATCH = 'The absolute-form request target names another host than the Host header';
const PARAMETER_DOT_SEGMENT =
  'The request path contains a dot segment with a ;parameter (..;), which some servers resolve; remove it';
const NOT_ORIGIN_FORM = 'The request target is neither origin-form (/path) nor an http(s) absolute URI';
const FRAGMENT = 'The request target contains a fragment (#), which is never sent to a server; remove it';
const MALFORMED_ENCODING =
  'The request path contains malformed percent-encoding (% not followed by two hex digits of valid UTF-8)';
const ENCODED_NUL = 'The request path contains an encoded NUL (%00), at which some servers cut the path';
const DOUBLE_ENCODED =
  'The request path percent-encodes a percent sign before a separator or NUL (%252e, %252f, %255c, %2500), which servers that decode twice read as one; send it encoded once';
const AMBIGUOUS_ROUTE =
  'The request path reads as another route once decoded, its empty segments merged or its ;parameters cut; send it normalized';

/** `.`, `/` and `\` percent-encoded (`%2e`, `%2f`, `%5c`, either case): a second way to spell a separator. */
function isEncodedSeparator(path: string, at: number): boolean {
  const high = path.charCodeAt(at + 1);
  const low = path.charCodeAt(at + 2) | 0x20;
  return (high === 0x32 && (low === 0x65 || low === 0x66)) || (high === 0x35 && low === 0x63);
}

/** `%00`, or a `%25` that spells `%2e`, `%2f`, `%5c` or `%00` once decoded (either case): what `path[at]` starts. */
function encodedTrickAt(path: string, at: number): string | undefined {
  if (path.charCodeAt(at + 1) !== 0x32 && path.charCodeAt(at + 1) !== 0x30) return undefined;
  if (path.startsWith('%00', at)) return ENCODED_NUL;
  if (!path.startsWith('%25', at)) return undefined;
  const twice = path.slice(at + 3, at + 5).toLowerCase();
  return twice === '2e' || twice === '2f' || twice === '5c' || twice === '00' ? DOUBLE_ENCODED : undefined;
}

/** RFC 3986 §5.2.4 remove_dot_segments over a path that starts with `/`. */
export function removeDotSegments(path: string): string {
  const output: string[] = [];
  const segments = path.split('/');
  for (let index = 1; index < segments.length; index++) {
    const segment = segments[index];
    const last = index === segments.length - 1;
    if (segment === '.') {
      if (last) output.push('');
    } else if (segment === '..') {
      output.pop();
      if (last) output.push('');
    } else {
      output.push(segment);
    }
  }
  return `/${output.join('/')}`;
}

/**
 * The path the most lenient downstream reads from `path` (no query): percent-decoded, Unicode-compatibility folded
 * (NFKC: a fullwidth `Ａ` is `A`), `;parameters` cut from every segment, trailing dots and spaces cut from every
 * segment (as Windows servers do), empty segments merged, dot segments resolved, in lower case. Undefined when its
 * percent-encoding is malformed (`%zz`, IIS's `%u002e`, overlong UTF-8 such as `%c0%ae`).
 */
export function lenientPathOf(path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const output: string[] = [];
  for (const raw of decoded.normalize('NFKC').split('/')) {
    const parameters = raw.indexOf(';');
    const segment = parameters === -1 ? raw : raw.slice(0, parameters);
    if (segment === '..') output.pop();
    else if (segment !== '' && segment !== '.') {
      const trimmed = segment.replace(/[. ]+$/, '');
      if (trimmed !== '') output.push(trimmed);
    }
  }
  return `/${output.join('/')}`.toLowerCase();
}

/**
 * The path and query of an `http(s)` absolute-form target (`http://host/path?q` → `/path?q`, fragment dropped) and
 * its authority; undefined when `target` is not one.
 */
export function absoluteFormOf(target: string): { authority: string; path: string } | undefined {
  const scheme = /^https?:\/\//i.exec(target);
  if (!scheme) return undefined;
  const rest = target.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  if (authorityEnd === -1) return { authority: rest, path: '/' };
  const hashAt = rest.indexOf('#', authorityEnd);
  const pathAndQuery = rest.slice(authorityEnd, hashAt === -1 ? rest.length : hashAt);
  return {
    authority: rest.slice(0, authorityEnd),
    path: pathAndQuery.charCodeAt(0) === 0x2f ? pathAndQuery : `/${pathAndQuery}`,
  };
}

/**
 * The origin-form path (and query) to send to the downstream of the route `prefix` (one of `prefixes`) for the
 * request target `url`, or why it is refused. The fast path — a plain path without `.`, `%`, `;`, `\` or `//`, on a
 * route with no other route under it — costs one character scan. Otherwise:
 * - a fragment (`#…`) is refused;
 * - an absolute-form target (`http://host/path`) is reduced to its path and query, and refused when its authority is
 *   not the `Host` header;
 * - an encoded `.`, `/` or `\` (`%2e`, `%2f`, `%5c`) or a raw backslash is refused: downstreams disagree on how to
 *   decode them, so none is allowed to move a path out of its route; so are an encoded NUL (`%00`), a percent sign
 *   encoded before one of them (`%252e`, `%2500`: a second decoding makes it one) and malformed percent-encoding;
 * - a dot segment with a `;parameter` (`..;`, `.;`), which servlet containers resolve as a dot segment, is refused;
 * - dot segments are removed (RFC 3986 §5.2.4); a path that then belongs to another route, or to none, is refused;
 * - so is one that a lenient downstream would read as another route's (`lenientPathOf`: `/orders//admin`,
 *   `/orders/admin;x`, `/orders/%61dmin`, `/orders/ADMIN`, `/orders/admin./x`, `/orders/%EF%BC%A1dmin` when
 *   `/orders/admin` is a route of its own).
 * @example forwardPathOf('/v3/a/../b?x=1', '/v3', 'example', new RoutePrefixes(['/v3'])) // '/v3/b?x=1'
 */
export function forwardPathOf(
  url: string,
  prefix: string,
  host: string | undefined,
  prefixes: RoutePrefixes,
): string | RefusedTarget {
  // Never sent by a client (RFC 9110 §4.2.5); a downstream that cuts it off first would read `/route/..#` as `/`.
  if (url.includes('#')) return { refused: FRAGMENT };
  let target = url;
  let mustCheck = prefixes.hasNested(prefix);
  if (target.charCodeAt(0) !== 0x2f) {
    const absolute = absoluteFormOf(target);
    if (absolute === undefined) return { refused: NOT_ORIGIN_FORM };
    if (host === undefined || absolute.authority.toLowerCase() !== host.toLowerCase())
      return { refused: AUTHORITY_MISMATCH };
    target = absolute.path;
    mustCheck = true;
  }
  const queryAt = target.indexOf('?');
  const end = queryAt === -1 ? target.length : queryAt;
  let previous = 0;
  for (let at = 0; at < end; at++) {
    const code = target.charCodeAt(at);
    if (code === 0x2e /* . */ || code === 0x3b /* ; */) mustCheck = true;
    else if (code === 0x5c /* \ */) return { refused: ENCODED_SEPARATOR };
    else if (code === 0x25 /* % */) {
      if (isEncodedSeparator(target, at)) return { refused: ENCODED_SEPARATOR };
      const trick = encodedTrickAt(target, at);
      if (trick !== undefined) return { refused: trick };
      mustCheck = true;
    } else if (code === 0x2f /* / */ && previous === 0x2f) mustCheck = true;
    previous = code;
  }
  if (!mustCheck) return target;
  const raw = target.slice(0, end);
  if (raw.includes('..;') || raw.includes('/.;')) return { refused: PARAMETER_DOT_SEGMENT };
  const path = removeDotSegments(raw);
  if (prefixes.of(path) !== prefix) return { refused: OUTSIDE_ROUTE };
  const lenient = lenientPathOf(path);
  if (lenient === undefined) return { refused: MALFORMED_ENCODING };
  if (prefixes.ofFolded(lenient) !== prefix) return { refused: AMBIGUOUS_ROUTE };
  return queryAt === -1 ? path : path + target.slice(queryAt);
}
