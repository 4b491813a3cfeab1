import { describe, it, expect } from '@jest/globals';
import { forwardedHops, HIDDEN_NODE, nodeAddress } from './forwarded-header.js';

describe('forwardedHops', () => {
  it('reads the for= node of each element, nearest proxy last, quoted or not, with or without a port', () => {
    expect(
      forwardedHops(
        'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", for="198.51.100.2:80"',
      ),
    ).toEqual(['192.0.2.60', '2001:db8:cafe::17', '198.51.100.2']);
    expect(forwardedHops(['for=192.0.2.60', 'for=198.51.100.2'])).toEqual(['192.0.2.60', '198.51.100.2']);
  });

  it('marks unknown, obfuscated and missing nodes as hidden', () => {
    expect(forwardedHops('for=unknown, for=_hidden, for="_SEVKISEK", proto=https')).toEqual([
      HIDDEN_NODE,
      HIDDEN_NODE,
      HIDDEN_NODE,
      HIDDEN_NODE,
    ]);
  });

  it('keeps a comma inside a quoted value in its element, and a malformed element as its raw text', () => {
    expect(forwardedHops('for=192.0.2.1;host="a,b", for=192.0.2.2')).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(forwardedHops('for=1.2.3.4:80, for=192.0.2.2')).toEqual(['for=1.2.3.4:80', '192.0.2.2']);
    expect(forwardedHops('for=example.com, for=192.0.2.2')).toEqual(['for=example.com', '192.0.2.2']);
    // A quote left open splits at every comma: the element a proxy appended after it stays readable.
    expect(forwardedHops('for="[::1, for=192.0.2.2')).toEqual(['for="[::1', '192.0.2.2']);
  });
});

describe('nodeAddress', () => {
  it('accepts RFC 7239 §6 nodes only', () => {
    expect(nodeAddress('192.0.2.60')).toBe('192.0.2.60');
    expect(nodeAddress('192.0.2.60:_port')).toBe('192.0.2.60');
    expect(nodeAddress('[::1]:443')).toBe('::1');
    expect(nodeAddress('[192.0.2.60]')).toBeUndefined();
    expect(nodeAddress('::1')).toBeUndefined();
    expect(nodeAddress('[::1]x')).toBeUndefined();
    expect(nodeAddress('192.0.2.60:http')).toBeUndefined();
    expect(nodeAddress('_x')).toBe(HIDDEN_NODE);
  });
});
