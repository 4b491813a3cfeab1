import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One signing key of the test issuer. */
export interface TestSigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A real HTTP JWKS endpoint whose published keys can be switched (key rotation), counting its fetches. */
export interface JwksServer {
  /** `http://127.0.0.1:<port>/certs` */
  url: string;
  /** How many times the JWKS was fetched. */
  fetches(): number;
  /** Publishes exactly these keys from now on. */
  publish(keys: TestSigningKey[]): void;
  close(): Promise<void>;
}

/** An RS256 key pair with a `kid`. */
export async function createSigningKey(kid: string): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

/** A JWT signed with `key` (RS256, `kid` in the header). */
export function signJwt(key: TestSigningKey, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

/** Starts a JWKS server on 127.0.0.1 publishing `keys`. */
export async function startJwksServer(keys: TestSigningKey[]): Promise<JwksServer> {
  let published = keys;
  let fetches = 0;
  const server: Server = createServer((request, response) => {
    fetches += 1;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: published.map((key) => key.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/certs`,
    fetches: () => fetches,
    publish: (next) => {
      published = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
