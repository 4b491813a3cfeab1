import { describe, expect, it } from '@jest/globals';
import { resolveV3TokenAuthOptions, V3TokenAuthOptionsError } from './v3-token-auth.config.js';

describe('resolveV3TokenAuthOptions', () => {
  it('applies the documented defaults', () => {
    expect(resolveV3TokenAuthOptions({ tokenUrl: 'http://issuer/token' })).toMatchObject({
      grantType: 'client_credentials',
      clientAuthMethod: 'client_secret_post',
      keyPrefix: 'v3t:',
      expirySkewSeconds: 30,
      timeoutMs: 5000,
      memoryCache: true,
      memoryCacheMaxEntries: 10000,
      refreshAheadRatio: 0.8,
    });
  });

  it.each([
    [{}, /"tokenUrl" is required/],
    [{ tokenUrl: 'not a url' }, /"tokenUrl" is not a valid URL/],
    [{ tokenUrl: 'ftp://issuer/token' }, /"tokenUrl" must be an http\(s\) URL/],
    [{ tokenUrl: 'http://id:secret@issuer/token' }, /must not carry credentials/],
    [{ tokenUrl: 'http://issuer/token', grantType: 'implicit' }, /"grantType" must be/],
    [{ tokenUrl: 'http://issuer/token', grantType: 'password' }, /"clientId" is required/],
    [{ tokenUrl: 'http://issuer/token', clientAuthMethod: 'private_key_jwt' }, /"clientAuthMethod" must be/],
    [{ tokenUrl: 'http://issuer/token', hmacKey: 'short' }, /"hmacKey" must be at least 16 bytes/],
    [
      { tokenUrl: 'http://issuer/token', expirySkewSeconds: -1 },
      /"expirySkewSeconds" must be an integer >= 0/,
    ],
    [{ tokenUrl: 'http://issuer/token', refreshAheadRatio: 1.5 }, /"refreshAheadRatio"/],
  ])('refuses %j naming the option', (options, message) => {
    expect(() => resolveV3TokenAuthOptions(options as never)).toThrow(V3TokenAuthOptionsError);
    expect(() => resolveV3TokenAuthOptions(options as never)).toThrow(message);
  });

  it('never echoes credentials from a refused token URL', () => {
    expect(() => resolveV3TokenAuthOptions({ tokenUrl: 'http://id:topsecret@issuer/token' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('topsecret') }),
    );
  });

  it('reads redis options that name no connection as "no Redis" (the in-process store serves)', () => {
    for (const redis of [{ url: undefined }, { url: '' }, { clusterNodes: [] }, {}]) {
      expect(resolveV3TokenAuthOptions({ tokenUrl: 'http://issuer/token', redis }).redis).toBeUndefined();
    }
    expect(
      resolveV3TokenAuthOptions({ tokenUrl: 'http://issuer/token', redis: { url: 'redis://127.0.0.1:1' } })
        .redis,
    ).toEqual({ url: 'redis://127.0.0.1:1' });
  });
});
