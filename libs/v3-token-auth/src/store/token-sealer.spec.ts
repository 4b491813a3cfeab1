import { describe, it, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { parseEncryptionKeys, TokenSealer } from './token-sealer.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const plaintext = JSON.stringify({ accessToken: 'eyJ.secret-access-token', clientId: 'customer_id' });
const aad = 'v3t:{fingerprint}';

function flipChar(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

describe('TokenSealer', () => {
  it('round-trips and never shows the plaintext in the sealed form', () => {
    const sealer = new TokenSealer([k1]);
    const sealed = sealer.seal(plaintext, aad);
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('secret-access-token');
    expect(sealer.open(sealed, aad)).toBe(plaintext);
  });

  it('round-trips any text under any aad, and any flipped bit makes it unopenable (property)', () => {
    const sealer = new TokenSealer([k1]);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string(), fc.nat(), (text, place, at) => {
        const sealed = sealer.seal(text, place);
        expect(sealer.open(sealed, place)).toBe(text);
        const parts = sealed.split('.');
        const bytes = Buffer.concat([2, 3, 4].map((i) => Buffer.from(parts[i], 'base64url')));
        bytes[at % bytes.length] ^= 1 << (at % 8);
        const iv = bytes.subarray(0, 12).toString('base64url');
        const tag = bytes.subarray(12, 28).toString('base64url');
        const ciphertext = bytes.subarray(28).toString('base64url');
        expect(sealer.open(['v1', 'k1', iv, tag, ciphertext].join('.'), place)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('uses a fresh IV for every seal', () => {
    const sealer = new TokenSealer([k1]);
    const a = sealer.seal(plaintext, aad);
    const b = sealer.seal(plaintext, aad);
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('opens nothing that was tampered with (iv, tag or ciphertext)', () => {
    const sealer = new TokenSealer([k1]);
    const sealed = sealer.seal(plaintext, aad);
    const parts = sealed.split('.');
    for (const index of [2, 3, 4]) {
      const tampered = [...parts];
      tampered[index] = flipChar(parts[index], 0);
      expect(sealer.open(tampered.join('.'), aad)).toBeUndefined();
    }
  });

  it('opens nothing under another aad (an entry moved to another key)', () => {
    const sealer = new TokenSealer([k1]);
    expect(sealer.open(sealer.seal(plaintext, aad), 'v3t:{other}')).toBeUndefined();
  });

  it('keeps opening old entries after a rotation, sealing with the first key', () => {
    const before = new TokenSealer([k1]);
    const after = new TokenSealer([k2, k1]);
    const old = before.seal(plaintext, aad);
    expect(after.open(old, aad)).toBe(plaintext);
    const fresh = after.seal(plaintext, aad);
    expect(fresh.startsWith('v1.k2.')).toBe(true);
    expect(before.open(fresh, aad)).toBeUndefined();
  });

  it('opens nothing under an unknown key id, or a known id with the wrong key', () => {
    const sealed = new TokenSealer([k1]).seal(plaintext, aad);
    expect(new TokenSealer([k2]).open(sealed, aad)).toBeUndefined();
    expect(new TokenSealer([{ id: 'k1', key: k2.key }]).open(sealed, aad)).toBeUndefined();
  });

  it('answers undefined, never throws, for malformed input', () => {
    const sealer = new TokenSealer([k1]);
    const sealed = sealer.seal(plaintext, aad);
    for (const bad of [
      '',
      'v1',
      'v2' + sealed.slice(2),
      sealed + '.x',
      sealed.replace(/\./g, ','),
      'v1.k1.!!.!!.!!',
    ]) {
      expect(sealer.open(bad, aad)).toBeUndefined();
    }
    expect(sealer.open(undefined as unknown as string, aad)).toBeUndefined();
  });

  it('rejects keys of the wrong size, duplicate ids and ids with a dot, without echoing the key', () => {
    const short = Buffer.from('not-32-bytes');
    expect(() => new TokenSealer([{ id: 'k1', key: short }])).toThrow(/exactly 32 bytes, got 12 bytes/);
    expect(() => new TokenSealer([k1, { id: 'k1', key: k2.key }])).toThrow(/#1 and #2 have the same id/);
    expect(() => new TokenSealer([{ id: 'k.1', key: k1.key }])).toThrow(/invalid id/);
    expect(() => new TokenSealer([])).toThrow(/at least one/);
    try {
      new TokenSealer([{ id: 'k1', key: short }]);
    } catch (error) {
      expect((error as Error).message).not.toContain('not-32-bytes');
    }
  });
});

describe('parseEncryptionKeys', () => {
  it('reads one base64 key as id k1', () => {
    const [key] = parseEncryptionKeys(k1.key.toString('base64'));
    expect(key.id).toBe('k1');
    expect(key.key.equals(k1.key)).toBe(true);
  });

  it('reads base64url too', () => {
    expect(parseEncryptionKeys(k2.key.toString('base64url'))[0].key.equals(k2.key)).toBe(true);
  });

  it('reads comma-separated id:base64 pairs in order, and they seal and open', () => {
    const keys = parseEncryptionKeys(` k2:${k2.key.toString('base64')} , k1:${k1.key.toString('base64')} `);
    expect(keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(keys[1].key.equals(k1.key)).toBe(true);
    const old = new TokenSealer([k1]).seal(plaintext, aad);
    expect(new TokenSealer(keys).open(old, aad)).toBe(plaintext);
  });

  it('names the fix for a wrong length, bad text, an empty value or a missing id, never echoing the key', () => {
    const sixteen = randomBytes(16).toString('base64');
    expect(() => parseEncryptionKeys(sixteen)).toThrow(/32 bytes, got 16.*openssl rand -base64 32/);
    expect(() => parseEncryptionKeys('not base64 at all!')).toThrow(/not base64/);
    expect(() => parseEncryptionKeys('   ')).toThrow(/empty/);
    expect(() => parseEncryptionKeys(`:${k1.key.toString('base64')}`)).toThrow(/id:base64/);
    expect(() =>
      parseEncryptionKeys(`k1:${k1.key.toString('base64')},k1:${k2.key.toString('base64')}`),
    ).toThrow(/#1 and #2 have the same id/);
    try {
      parseEncryptionKeys(sixteen);
    } catch (error) {
      expect((error as Error).message).not.toContain(sixteen);
    }
  });

  it('never echoes a key written before its id, which reads as the id', () => {
    const key = k1.key.toString('base64');
    for (const written of [`${key}:k1`, `k2:${k2.key.toString('base64')},${key}:`, `${key}:${key}`]) {
      let message = '';
      try {
        parseEncryptionKeys(written);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/Encryption key #\d/);
      expect(message).not.toContain(key);
      expect(message).not.toContain(key.slice(0, 12));
    }
  });
});
