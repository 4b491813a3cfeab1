import { BlockList, isIP } from 'node:net';

const IPV4_MAPPED = '::ffff:';

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged. */
function plainAddress(address: string): string {
  return address.startsWith(IPV4_MAPPED) && isIP(address.slice(IPV4_MAPPED.length)) === 4
    ? address.slice(IPV4_MAPPED.length)
    : address;
}

/**
 * The proxies in front of the gateway (`GATEWAY_TRUSTED_PROXIES`) and what they imply: which `X-Forwarded-*`
 * headers to believe, and the **caller address** — the rightmost address in the chain (TCP peer, then
 * `X-Forwarded-For` from right to left) that is not a trusted proxy. Without trusted proxies the caller address is
 * the TCP peer and every forwarding header a caller sends is ignored.
 * The throttle of wrong secrets per caller address counts by `callerAddress`.
 * @example
 * const proxies = TrustedProxies.parse('10.0.0.0/8, fd00::/8');
 * proxies.callerAddress('10.1.2.3', '203.0.113.9, 10.9.9.9'); // '203.0.113.9'
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
   * that is not trusted (the leftmost one when all are). An unparsable entry ends the walk: it is taken as the
   * caller, since no trusted proxy would have written it.
   */
  callerAddress(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peer = plainAddress(remoteAddress ?? '');
    if (!this.isTrusted(peer) || forwardedFor === undefined) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let caller = peer;
    for (let index = hops.length - 1; index >= 0; index--) {
      const hop = hops[index].trim();
      if (hop === '') continue;
      caller = plainAddress(hop);
      if (!this.isTrusted(caller)) return caller;
    }
    return caller;
  }
}
