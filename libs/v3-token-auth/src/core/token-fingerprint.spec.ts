import { describe, expect, it } from '@jest/globals';
import { TokenFingerprinter } from './token-fingerprint.js';
import type { V3Credentials } from '../v3-token.interfaces.js';

const credentials: V3Credentials = {
  grantType: 'client_credentials',
  clientId: 'customer_id',
  clientSecret: 's3cr3t-value',
};

describe('TokenFingerprinter', () => {
  const fingerprinter = new TokenFingerprinter('a-shared-hmac-key-of-32-bytes!!!', 'https://issuer/token');

  it('derives the cache key from url, grant type, client id and username, never the secret', () => {
    const key = fingerprinter.credentialsKey(credentials);
    expect(key).not.toContain('s3cr3t');
    expect(fingerprinter.credentialsKey({ ...credentials, clientSecret: 'other' })).toBe(key);
    expect(fingerprinter.credentialsKey({ ...credentials, clientId: 'other' })).not.toBe(key);
    expect(fingerprinter.credentialsKey({ ...credentials, username: 'jdoe' })).not.toBe(key);
    expect(
      new TokenFingerprinter('a-shared-hmac-key-of-32-bytes!!!', 'https://other/token').credentialsKey(
        credentials,
      ),
    ).not.toBe(key);
  });

  it('binds verifiers to the secret and the key', () => {
    const key = fingerprinter.credentialsKey(credentials);
    const verifier = fingerprinter.verifier(key, credentials);
    expect(verifier).not.toContain('s3cr3t');
    expect(fingerprinter.verifier(key, { ...credentials, clientSecret: 'wrong' })).not.toBe(verifier);
    expect(TokenFingerprinter.sameVerifier(verifier, fingerprinter.verifier(key, credentials))).toBe(true);
    expect(TokenFingerprinter.sameVerifier(verifier, verifier.slice(1))).toBe(false);
    const lastFlipped = verifier.slice(0, -1) + (verifier.endsWith('A') ? 'B' : 'A');
    expect(TokenFingerprinter.sameVerifier(verifier, lastFlipped)).toBe(false);
    expect(TokenFingerprinter.sameVerifier('', '')).toBe(true);
  });

  it('is shared by instances with the same key and private without one', () => {
    const twin = new TokenFingerprinter('a-shared-hmac-key-of-32-bytes!!!', 'https://issuer/token');
    expect(twin.credentialsKey(credentials)).toBe(fingerprinter.credentialsKey(credentials));
    const random = new TokenFingerprinter(undefined, 'https://issuer/token');
    expect(random.credentialsKey(credentials)).not.toBe(fingerprinter.credentialsKey(credentials));
  });

  it('keeps bearer and header keys apart from credential keys', () => {
    expect(fingerprinter.bearerKey('tok')).toMatch(/^b\./);
    expect(fingerprinter.credentialsKey(credentials)).toMatch(/^c\./);
    expect(fingerprinter.headerKey('Basic abc')).not.toBe(fingerprinter.headerKey('Basic abd'));
  });
});
