import { describe, it, expect } from '@jest/globals';
import { TrustedProxies } from './caller-address.js';

describe('TrustedProxies', () => {
  const proxies = TrustedProxies.parse('10.0.0.0/8, 127.0.0.2, fd00::/8');

  it('takes the TCP peer as the caller when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(TrustedProxies.NONE.callerAddress('10.1.1.1', '203.0.113.9')).toBe('10.1.1.1');
    expect(TrustedProxies.NONE.isTrusted('10.1.1.1')).toBe(false);
    expect(TrustedProxies.NONE.enabled).toBe(false);
  });

  it('takes the rightmost untrusted hop behind trusted proxies (IPv4, IPv6, IPv4-mapped)', () => {
    expect(proxies.callerAddress('10.1.2.3', '198.51.100.1, 203.0.113.9, 10.9.9.9')).toBe('203.0.113.9');
    expect(proxies.callerAddress('::ffff:127.0.0.2', '203.0.113.7')).toBe('203.0.113.7');
    // Some proxies add the source port: every port of one caller is one caller address.
    expect(proxies.callerAddress('10.1.2.3', '203.0.113.5:1111')).toBe('203.0.113.5');
    expect(proxies.callerAddress('10.1.2.3', '[2001:db8::5]:443')).toBe('2001:db8::5');
    expect(proxies.callerAddress('10.1.2.3', '203.0.113.5:1111, 10.9.9.9:80')).toBe('203.0.113.5');
    expect(proxies.callerAddress('fd00::1', ['2001:db8::5', 'fd00::2'])).toBe('2001:db8::5');
  });

  it('ignores X-Forwarded-For from a peer that is not trusted, and takes the leftmost hop when all are trusted', () => {
    expect(proxies.callerAddress('127.0.0.3', '203.0.113.9')).toBe('127.0.0.3');
    expect(proxies.callerAddress('10.0.0.1', '10.0.0.2, 10.0.0.3')).toBe('10.0.0.2');
    expect(proxies.callerAddress('10.0.0.1', undefined)).toBe('10.0.0.1');
  });

  it('takes an unparsable hop as the caller rather than walking past it', () => {
    expect(proxies.callerAddress('10.0.0.1', '203.0.113.9, bogus, 10.0.0.2')).toBe('bogus');
  });

  it('walks Forwarded for= nodes when a trusted peer sent no X-Forwarded-For', () => {
    expect(proxies.callerAddressOf('10.0.0.1', { forwarded: 'for=203.0.113.9, for="10.0.0.2:80"' })).toBe(
      '203.0.113.9',
    );
    expect(proxies.callerAddressOf('fd00::1', { forwarded: 'for="[2001:db8::5]:443"' })).toBe('2001:db8::5');
    expect(proxies.callerAddressOf('10.0.0.1', { forwarded: 'for=203.0.113.9, for=_proxyA' })).toBe(
      '10.0.0.1',
    );
    expect(
      proxies.callerAddressOf('10.0.0.1', { forwarded: 'for=203.0.113.9, for=unknown, for=10.0.0.2' }),
    ).toBe('10.0.0.2');
  });

  it('prefers X-Forwarded-For to Forwarded, and ignores both from an untrusted peer', () => {
    const headers = { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=203.0.113.9' };
    expect(proxies.callerAddressOf('10.0.0.1', headers)).toBe('198.51.100.1');
    expect(proxies.callerAddressOf('127.0.0.3', headers)).toBe('127.0.0.3');
    expect(proxies.callerAddressOf('127.0.0.3', { forwarded: 'for=203.0.113.9' })).toBe('127.0.0.3');
    expect(TrustedProxies.NONE.callerAddressOf('10.0.0.1', { forwarded: 'for=203.0.113.9' })).toBe(
      '10.0.0.1',
    );
  });

  it('refuses entries that are not addresses or CIDRs, naming the entry', () => {
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.com', '10.0.0.0/', '10.0.0.0/x'])
      expect(() => TrustedProxies.parse(bad)).toThrow(`"${bad}"`);
  });
});
