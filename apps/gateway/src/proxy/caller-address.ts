import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { forwardedHops, HIDDEN_NODE, nodeAddress, type ForwardedHop } from './forwarded-header.js';

const IPV4_MAPPED = '::ffff:';

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged. */
function plainAddress(address: string): string {
  return address.startsWith(IPV4_MAPPED) && isIP(address.slice(IPV4_MAPPED.length)) === 4
    ? address.slice(IPV4_MAPPED.length)
    : address;
}

/**
 * The address of an `X-Forwarded-For` entry: the entry itself, or without the port that some proxies add
 * (`203.0.113.5:1111`, `[2001:db8::1]:443`), so that every source port of one caller is one address; an entry that
 * is no address is kept as it is.
 */
function forwardedForAddress(hop: string): string {
  if (isIP(hop) !== 0) return hop;
  const address = nodeAddress(hop);
  return typeof address === 'string' ? address : hop;
}

/**
 * The proxies in front of the gateway (`GATEWAY_TRUSTED_PROXIES`) and what they imply: which forwarding headers
 * to believe, and the **caller address** — the rightmost address in the chain (TCP peer, then the hops a trusted
 * peer reports, from right to left) that is not a trusted proxy. The chain is `X-Forwarded-For` when the peer sent
 * one, else the `for=` nodes of `Forwarded` (RFC 7239); `X-Forwarded-For` wins because most proxies maintain it and
 * pass a caller's `Forwarded` through untouched. Without trusted proxies the caller address is the TCP peer and
 * every forwarding header a caller sends is ignored.
 * The throttle of wrong secrets per caller address counts by `callerAddressOf`.
 * @example
 * const proxies = TrustedProxies.parse('10.0.0.0/8, fd00::/8');
 * proxies.callerAddress('10.1.2.3', '203.0.113.9, 10.9.9.9'); // '203.0.113.9'
 * proxies.callerAddressOf('10.1.2.3', { forwarded: 'for="[2001:db8::7]:443", for=10.9.9.9' }); // '2001:db8::7'
 */
export class TrustedProxies {
  /** No proxy is trusted: the caller address is always the TCP peer. */
  static readonly NONE = new TrustedProxies(undefined);

  private constructor(private readonly list: BlockList | undefined) {}

  /**
   * Parses a comma-separated list of IPv4/IPv6 CIDRs or single addresses (`10.0.0.0/8,::1,fd00::/8`).
   * Throws an `Error` naming the first entry that is neither.
   */
  static parse(value: string): TrustedProxies {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    if (entries.length === 0) return TrustedProxies.NONE;
    const list = new BlockList();
    for (const entry of entries) {
      const slash = entry.indexOf('/');
      const address = slash === -1 ? entry : entry.slice(0, slash);
      const family = isIP(address);
      const maxBits = family === 6 ? 128 : 32;
      const bitsText = slash === -1 ? String(maxBits) : entry.slice(slash + 1);
      const bits = Number(bitsText);
      if (family === 0 || !/^\d{1,3}$/.test(bitsText) || bits > maxBits) {
        throw new Error(`"${entry}" is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)`);
      }
      list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
    }
    return new TrustedProxies(list);
  }

  /** Whether any proxy is trusted at all. */
  get enabled(): boolean {
    return this.list !== undefined;
  }

  /** Whether `address` (a TCP peer or an `X-Forwarded-For` entry) is a trusted proxy. */
  isTrusted(address: string | undefined): boolean {
    if (this.list === undefined || address === undefined) return false;
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The caller address: `remoteAddress` unless it is a trusted proxy; then the rightmost `X-Forwarded-For` entry
   * that is not trusted (the leftmost one when all are), read without a port. An unparsable entry ends the walk: it
   * is taken as the caller, since no trusted proxy would have written it.
   */
  callerAddress(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peer = plainAddress(remoteAddress ?? '');
    if (!this.isTrusted(peer) || forwardedFor === undefined) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((hop) => hop.trim())
      .filter((hop) => hop !== '')
      .map(forwardedForAddress);
    return this.walk(peer, hops);
  }

  /**
   * The caller address of a request from `remoteAddress` with `headers`: from a trusted peer, the walk of
   * `X-Forwarded-For` when it is present, else of the `Forwarded` `for=` nodes (quoted, `[IPv6]:port` and
   * `IPv4:port` nodes read as their address). A node that names no address (`unknown`, an obfuscated `_id`, an
   * element without `for=`) ends the walk at the trusted proxy that wrote it: the caller is that proxy.
   */
  callerAddressOf(remoteAddress: string | undefined, headers: IncomingHttpHeaders): string {
    const forwardedFor = headers['x-forwarded-for'];
    const forwarded = headers.forwarded;
    if (forwardedFor !== undefined || forwarded === undefined)
      return this.callerAddress(remoteAddress, forwardedFor);
    const peer = plainAddress(remoteAddress ?? '');
    return this.isTrusted(peer) ? this.walk(peer, forwardedHops(forwarded)) : peer;
  }

  /** Walks `hops` from the right, from the trusted `peer`, to the first hop that is not a trusted proxy. */
  private walk(peer: string, hops: readonly ForwardedHop[]): string {
    let caller = peer;
    for (let index = hops.length - 1; index >= 0; index--) {
      const hop = hops[index];
      if (hop === HIDDEN_NODE) return caller;
      caller = plainAddress(hop);
      if (!this.isTrusted(caller)) return caller;
    }
    return caller;
  }
}
