import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import type { CachedToken } from '../token-store.interface.js';
import { entryOf, payloadOf, storedValue, storedValuePrefix, toCachedToken } from './stored-entry.js';

const entry: CachedToken = {
  accessToken: 'at-1',
  tokenType: 'Bearer',
  issuedAt: 1_000,
  expiresAt: 61_000,
  clientId: 'orders',
  verifier: 'v1',
  scope: 'orders:read',
};

describe('the stored value of an entry', () => {
  it('starts with the SHA-256 of its token and a separator, then its payload, which reads back as the entry', () => {
    const json = JSON.stringify(entry);
    const raw = storedValue(entry.accessToken, json);
    expect(raw).toBe(`${createHash('sha256').update('at-1').digest('hex')}|${json}`);
    expect(raw.startsWith(storedValuePrefix('at-1'))).toBe(true);
    expect(payloadOf(raw)).toBe(json);
    expect(entryOf(json, raw)).toEqual(entry);
  });

  it('is no entry when its fingerprint names another token than its payload holds', () => {
    const json = JSON.stringify(entry);
    const swapped = storedValue('at-2', json);
    expect(entryOf(json, swapped)).toBeUndefined();
  });

  it('is no entry without a fingerprint and separator, or with a payload that is not an entry', () => {
    expect(payloadOf('no fingerprint here')).toBeUndefined();
    expect(payloadOf(`${'a'.repeat(64)}#{}`)).toBeUndefined();
    const raw = storedValue('at-1', '{');
    expect(entryOf(payloadOf(raw)!, raw)).toBeUndefined();
    const wrongType = JSON.stringify({ ...entry, tokenType: 'MAC' });
    expect(entryOf(wrongType, storedValue('at-1', wrongType))).toBeUndefined();
  });
});

describe('toCachedToken', () => {
  it('keeps the known fields only, and refuses a field of the wrong type', () => {
    expect(toCachedToken({ ...entry, extra: 'dropped' })).toEqual(entry);
    expect(toCachedToken({ ...entry, expiresAt: '61000' })).toBeUndefined();
    expect(toCachedToken({ ...entry, scope: 7 })).toBeUndefined();
    expect(toCachedToken({ ...entry, accessToken: '' })).toBeUndefined();
    expect(toCachedToken(null)).toBeUndefined();
  });

  it('refuses recent verifiers that are not a short list of verifier and time', () => {
    const recent = [{ verifier: 'v0', grantedAt: 500 }];
    expect(toCachedToken({ ...entry, recentVerifiers: recent })?.recentVerifiers).toEqual(recent);
    expect(toCachedToken({ ...entry, recentVerifiers: [{ verifier: '', grantedAt: 1 }] })).toBeUndefined();
    expect(toCachedToken({ ...entry, recentVerifiers: 'v0' })).toBeUndefined();
    expect(toCachedToken({ ...entry, recentVerifiers: [] })?.recentVerifiers).toBeUndefined();
  });
});
