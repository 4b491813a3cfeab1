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

/** `.`, `/` and `\` percent-encoded (`%2e`, `%2f`, `%5c`, either case): a second way to spell a separator. */
function isEncodedSeparator(path: string, at: number): boolean {
  const high = path.charCodeAt(at + 1);
  const low = path.charCodeAt(at + 2) | 0x20;
  return (high === 0x32 && (low === 0x65 || low === 0x66)) || (high === 0x35 && low === 0x63);
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

/** Whether `path` is `prefix` itself or lies under it (`/v3`, `/v3/…`, `/v3?…` never `/v3x`). */
function isUnder(path: string, prefix: string): boolean {
  return (
    path.startsWith(prefix) &&
    (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f) /* / */
  );
}

/**
 * The origin-form path (and query) to send to a route's downstream for the request target `url`, or why it is
 * refused. The fast path — a plain path without `.`, `%` or `\` — costs one character scan. Otherwise:
 * - an absolute-form target (`http://host/path`) is reduced to its path and query, and refused when its authority is
 *   not the `Host` header;
 * - an encoded `.`, `/` or `\` (`%2e`, `%2f`, `%5c`) or a raw backslash is refused: downstreams disagree on how to
 *   decode them, so none is allowed to move a path out of its route;
 * - a dot segment with a `;parameter` (`..;`, `.;`), which servlet containers resolve as a dot segment, is refused;
 * - dot segments are removed (RFC 3986 §5.2.4); a path that then no longer lies under `prefix` is refused.
 * @example forwardPathOf('/v3/a/../b?x=1', '/v3', 'example') // '/v3/b?x=1'
 */
export function forwardPathOf(url: string, prefix: string, host: string | undefined): string | RefusedTarget {
  let target = url;
  let mustCheckContainment = false;
  if (target.charCodeAt(0) !== 0x2f) {
    const reduced = originFormOf(target, host);
    if (typeof reduced !== 'string') return reduced;
    target = reduced;
    mustCheckContainment = true;
  }
  const queryAt = target.indexOf('?');
  const end = queryAt === -1 ? target.length : queryAt;
  for (let at = 0; at < end; at++) {
    const code = target.charCodeAt(at);
    if (code === 0x2e /* . */) mustCheckContainment = true;
    else if (code === 0x5c /* \ */) return { refused: ENCODED_SEPARATOR };
    else if (code === 0x25 /* % */ && isEncodedSeparator(target, at)) return { refused: ENCODED_SEPARATOR };
  }
  if (!mustCheckContainment) return target;
  const raw = target.slice(0, end);
  if (raw.includes('..;') || raw.includes('/.;')) return { refused: PARAMETER_DOT_SEGMENT };
  const path = removeDotSegments(raw);
  if (!isUnder(path, prefix)) return { refused: OUTSIDE_ROUTE };
  return queryAt === -1 ? path : path + target.slice(queryAt);
}

/** Reduces an absolute-form target to origin-form, or refuses it. */
function originFormOf(target: string, host: string | undefined): string | RefusedTarget {
  const scheme = /^https?:\/\//i.exec(target);
  if (!scheme) return { refused: NOT_ORIGIN_FORM };
  const authorityEnd = target.slice(scheme[0].length).search(/[/?#]/);
  const authority =
    authorityEnd === -1
      ? target.slice(scheme[0].length)
      : target.slice(scheme[0].length, scheme[0].length + authorityEnd);
  if (host === undefined || authority.toLowerCase() !== host.toLowerCase())
    return { refused: AUTHORITY_MISMATCH };
  if (authorityEnd === -1) return '/';
  const rest = target.slice(scheme[0].length + authorityEnd);
  const hashAt = rest.indexOf('#');
  const withoutFragment = hashAt === -1 ? rest : rest.slice(0, hashAt);
  return withoutFragment.charCodeAt(0) === 0x2f ? withoutFragment : `/${withoutFragment}`;
}
