import parseForwarded from 'forwarded-parse';
import { isIP } from 'node:net';

/** A `for=` node that names no address: `unknown`, an obfuscated identifier (`_hidden`), or no `for=` at all. */
export const HIDDEN_NODE = Symbol('hidden');

/** One hop of a `Forwarded` header: an IP address, {@link HIDDEN_NODE}, or the raw text of an element that does not parse. */
export type ForwardedHop = string | typeof HIDDEN_NODE;

/**
 * Splits a `Forwarded` value into its elements at the commas that are not inside a quoted string. A quote left open
 * splits at every comma instead: otherwise a caller's `for="x` would swallow the elements that the proxies after it
 * appended, and its own text would read as the nearest hop.
 */
function elementsOf(value: string): string[] {
  const elements: string[] = [];
  let start = 0;
  let quoted = false;
  for (let at = 0; at < value.length; at++) {
    const code = value.charCodeAt(at);
    if (quoted && code === 0x5c /* \ */) at++;
    else if (code === 0x22 /* " */) quoted = !quoted;
    else if (code === 0x2c /* , */ && !quoted) {
      elements.push(value.slice(start, at));
      start = at + 1;
    }
  }
  elements.push(value.slice(start));
  return (quoted ? value.split(',') : elements)
    .map((element) => element.trim())
    .filter((element) => element !== '');
}

/**
 * The address of an RFC 7239 §6 node (`192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`), or
 * {@link HIDDEN_NODE} for `unknown` and obfuscated identifiers; `undefined` when it is none of these.
 */
export function nodeAddress(node: string): ForwardedHop | undefined {
  if (node === 'unknown' || node.startsWith('_')) return HIDDEN_NODE;
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    const address = node.slice(1, close);
    const rest = node.slice(close + 1);
    return close > 0 && isIP(address) === 6 && (rest === '' || /^:(\d{1,5}|_[\w.-]+)$/.test(rest))
      ? address
      : undefined;
  }
  const colon = node.indexOf(':');
  const address = colon === -1 ? node : node.slice(0, colon);
  if (isIP(address) !== 4) return undefined;
  return colon === -1 || /^(\d{1,5}|_[\w.-]+)$/.test(node.slice(colon + 1)) ? address : undefined;
}

/**
 * The `for=` hops of a `Forwarded` header (RFC 7239), in header order (nearest proxy last), one per element:
 * its address, {@link HIDDEN_NODE} when it names none, or the element's raw text when the element or its node does
 * not parse. Each element is parsed on its own (`forwarded-parse`), so a malformed element a caller sent leaves the
 * elements appended by proxies readable.
 * @example forwardedHops('for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"') // ['192.0.2.60', '2001:db8::1']
 */
export function forwardedHops(value: string | string[]): ForwardedHop[] {
  const hops: ForwardedHop[] = [];
  for (const element of elementsOf(Array.isArray(value) ? value.join(',') : value)) {
    let node: string | undefined;
    try {
      node = parseForwarded(element)[0]?.for;
    } catch {
      hops.push(element);
      continue;
    }
    hops.push(node === undefined ? HIDDEN_NODE : (nodeAddress(node) ?? element));
  }
  return hops;
}
