import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { base64url } from 'jose';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSigningKey, signJwt, type TestSigningKey } from '../../../../test/support/jwks-server.js';
import { V3IssuerUnavailableException } from '../v3-token.exceptions.js';
import { STALE_KEYS_GRACE_MS } from './jwks-key.source.js';
import { V3InvalidTokenException } from './v3-invalid-token.exception.js';
import { V3JwtVerifier } from './v3-jwt.verifier.js';

const ISSUER = 'https://issuer.test';
const HUGE_BODY_BYTES = 64 * 1024 * 1024;

/** What the JWKS endpoint answers: the keys, a 500, nothing at all, or an endless-looking JSON body. */
type JwksBehaviour = 'keys' | 'fail' | 'hang' | 'huge' | 'huge-declared';

/** How a huge answer ended: bytes handed to the socket, and whether the client let it finish. */
interface HugeAnswer {
  written: number;
  finished: boolean;
}

/** A real JWKS endpoint an attacker (or a broken issuer) controls; counts every request it receives. */
class ScriptedJwks {
  behaviour: JwksBehaviour = 'keys';
  keys: TestSigningKey[] = [];
  fetches = 0;
  url = '';
  hugeAnswer: Promise<HugeAnswer> | undefined;
  private readonly server: Server = createServer((request, response) => this.answer(request, response));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/certs`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(_request: IncomingMessage, response: ServerResponse): void {
    this.fetches += 1;
    if (this.behaviour === 'hang') return;
    if (this.behaviour === 'fail') {
      response.writeHead(500).end('down');
      return;
    }
    if (this.behaviour === 'keys') {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: this.keys.map((key) => key.publicJwk) }));
      return;
    }
    this.hugeAnswer = streamHugeJwks(response, this.behaviour === 'huge-declared');
  }
}

/** `{"keys":[` + 64 MiB of JSON whitespace + `]}`: valid JSON, written only as fast as the client reads it. */
function streamHugeJwks(response: ServerResponse, declareLength: boolean): Promise<HugeAnswer> {
  const open = '{"keys":[';
  const close = ']}';
  const chunk = Buffer.alloc(64 * 1024, ' ');
  response.setHeader('content-type', 'application/json');
  if (declareLength) response.setHeader('content-length', open.length + HUGE_BODY_BYTES + close.length);
  response.write(open);
  let written = 0;
  const pump = (): void => {
    while (written < HUGE_BODY_BYTES && !response.destroyed) {
      written += chunk.length;
      if (!response.write(chunk)) {
        response.once('drain', pump);
        return;
      }
    }
    if (!response.destroyed) response.end(close);
  };
  const ended = new Promise<HugeAnswer>((resolve) =>
    response.once('close', () => resolve({ written, finished: response.writableFinished })),
  );
  pump();
  return ended;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A JWT an unauthenticated attacker can send: any `kid`, a junk signature. */
function forgedJwt(kid: string): string {
  const encode = (value: object) => base64url.encode(JSON.stringify(value));
  const header = encode({ alg: 'RS256', kid, typ: 'JWT' });
  const payload = encode({ iss: ISSUER, sub: 'attacker', exp: nowSeconds() + 300 });
  return `${header}.${payload}.${base64url.encode('junk-signature')}`;
}

/** Verifies `tokens` `parallel` at a time, as the tester did; every outcome, in order. */
async function verifyInBatches(
  verifier: V3JwtVerifier,
  tokens: string[],
  parallel: number,
): Promise<unknown[]> {
  const outcomes: unknown[] = [];
  for (let start = 0; start < tokens.length; start += parallel) {
    const batch = tokens.slice(start, start + parallel);
    outcomes.push(
      ...(await Promise.all(
        batch.map((token) =>
          verifier.verify(token).then(
            (principal) => principal,
            (error: unknown) => error,
          ),
        ),
      )),
    );
  }
  return outcomes;
}

function expectAllUnavailable(outcomes: unknown[]): void {
  for (const outcome of outcomes) {
    expect(outcome).toBeInstanceOf(V3IssuerUnavailableException);
    expect((outcome as V3IssuerUnavailableException).getStatus()).toBe(503);
  }
}

describe('V3JwtVerifier against a failing or hostile JWKS endpoint', () => {
  const jwks = new ScriptedJwks();
  let key: TestSigningKey;
  let clockOffsetMs = 0;
  const now = () => Date.now() + clockOffsetMs;
  const advanceClock = (ms: number) => {
    clockOffsetMs += ms;
  };
  const validJwt = (jti: string) => signJwt(key, { iss: ISSUER, sub: 'svc', exp: nowSeconds() + 300, jti });
  const forgedJwts = (count: number) =>
    Array.from({ length: count }, (_, index) => forgedJwt(`forged-${index}`));
  const verifier = (options: { cooldownMs?: number; maxAgeMs?: number; timeoutMs?: number } = {}) =>
    new V3JwtVerifier(
      {
        jwksUrl: jwks.url,
        issuer: ISSUER,
        jwksCooldownMs: options.cooldownMs ?? 3000,
        jwksMaxAgeMs: options.maxAgeMs ?? 60_000,
        jwksTimeoutMs: options.timeoutMs ?? 2000,
      },
      now,
    );

  beforeAll(async () => {
    key = await createSigningKey('issuer-key');
    await jwks.start();
  });
  afterAll(() => jwks.close());
  beforeEach(() => {
    jwks.behaviour = 'keys';
    jwks.keys = [key];
    jwks.fetches = 0;
    jwks.hugeAnswer = undefined;
    clockOffsetMs = 0;
  });
  afterEach(() => {
    jwks.behaviour = 'keys';
  });

  it('fetches a failing JWKS once for 100 forged tokens sent 4 at a time, answering every one 503', async () => {
    jwks.behaviour = 'fail';
    const outcomes = await verifyInBatches(verifier(), forgedJwts(100), 4);
    expectAllUnavailable(outcomes);
    expect((outcomes[0] as V3IssuerUnavailableException).message).toBe(
      'The issuer JWKS could not be fetched',
    );
    expect(jwks.fetches).toBe(1);
  });

  it('fetches a failing JWKS once for two waves of 100 forged tokens sent all at once', async () => {
    jwks.behaviour = 'fail';
    const subject = verifier();
    expectAllUnavailable(await verifyInBatches(subject, forgedJwts(100), 100));
    expectAllUnavailable(await verifyInBatches(subject, forgedJwts(100), 100));
    expect(jwks.fetches).toBe(1);
  });

  it('answers 503 without a fetch during the backoff, then uses the recovered JWKS', async () => {
    const subject = verifier();
    jwks.behaviour = 'fail';
    expectAllUnavailable(await verifyInBatches(subject, [await validJwt('a')], 1));
    jwks.behaviour = 'keys';
    advanceClock(900);
    const during = await verifyInBatches(subject, [await validJwt('b')], 1);
    expectAllUnavailable(during);
    expect((during[0] as V3IssuerUnavailableException).headers['Retry-After']).toBe('1');
    expect(jwks.fetches).toBe(1);
    advanceClock(200);
    expect((await subject.verify(await validJwt('c'))).clientId).toBe('svc');
    expect(jwks.fetches).toBe(2);
  });

  it('doubles the backoff after each failed fetch, up to the cooldown, and resets it on success', async () => {
    const subject = verifier({ cooldownMs: 3000 });
    jwks.behaviour = 'fail';
    const attempt = async () => verifyInBatches(subject, forgedJwts(4), 4);
    const fetchesAfter = async (ms: number) => {
      advanceClock(ms);
      expectAllUnavailable(await attempt());
      return jwks.fetches;
    };
    expect(await fetchesAfter(0)).toBe(1);
    expect(await fetchesAfter(1000)).toBe(2);
    expect(await fetchesAfter(1000)).toBe(2);
    expect(await fetchesAfter(1000)).toBe(3);
    expect(await fetchesAfter(2900)).toBe(3);
    expect(await fetchesAfter(100)).toBe(4);
    expect(await fetchesAfter(3000)).toBe(5);
    jwks.behaviour = 'keys';
    advanceClock(3000);
    await subject.verify(await validJwt('recovered'));
    expect(jwks.fetches).toBe(6);
    jwks.behaviour = 'fail';
    advanceClock(60_000);
    expect(await fetchesAfter(0)).toBe(7);
    expect(await fetchesAfter(1000)).toBe(8);
  });

  it('keeps verifying with the last good keys while a stale set cannot be refetched, fetching once per backoff', async () => {
    const subject = verifier({ cooldownMs: 50, maxAgeMs: 100 });
    await subject.verify(await validJwt('fresh'));
    expect(jwks.fetches).toBe(1);
    await sleep(150);
    jwks.behaviour = 'fail';
    const outcomes = await verifyInBatches(subject, forgedJwts(50), 4);
    expectAllUnavailable(outcomes);
    expect(jwks.fetches).toBe(2);
    expect((await subject.verify(await validJwt('stale'))).clientId).toBe('svc');
    expect(jwks.fetches).toBe(2);
  });

  it('stops verifying with a stale set an hour past its max age while it still cannot be refetched: 503', async () => {
    const subject = verifier({ cooldownMs: 50, maxAgeMs: 100 });
    const longLived = (jti: string) =>
      signJwt(key, { iss: ISSUER, sub: 'svc', exp: nowSeconds() + 3 * 3600, jti });
    await subject.verify(await longLived('fresh'));
    jwks.behaviour = 'fail';
    advanceClock(100 + STALE_KEYS_GRACE_MS - 5_000);
    expect((await subject.verify(await longLived('stale'))).clientId).toBe('svc');
    advanceClock(10_000);
    expectAllUnavailable(await verifyInBatches(subject, [await longLived('too-stale')], 1));
  });

  it('refuses an oversized JWKS body with 503, closing the connection long before it is all sent', async () => {
    jwks.behaviour = 'huge';
    const outcomes = await verifyInBatches(verifier({ timeoutMs: 10_000 }), forgedJwts(8), 4);
    expectAllUnavailable(outcomes);
    expect(jwks.fetches).toBe(1);
    const answer = await jwks.hugeAnswer;
    expect(answer?.finished).toBe(false);
    expect(answer?.written).toBeLessThan(HUGE_BODY_BYTES / 4);
  });

  it('refuses a JWKS declaring a Content-Length over the cap without reading its body', async () => {
    jwks.behaviour = 'huge-declared';
    expectAllUnavailable(await verifyInBatches(verifier({ timeoutMs: 10_000 }), forgedJwts(1), 1));
    const answer = await jwks.hugeAnswer;
    expect(answer?.finished).toBe(false);
    expect(answer?.written).toBeLessThan(HUGE_BODY_BYTES / 4);
  });

  it('bounds a JWKS that does not answer like one that fails: one fetch, every answer 503 "timed out"', async () => {
    jwks.behaviour = 'hang';
    const outcomes = await verifyInBatches(verifier({ timeoutMs: 100 }), forgedJwts(40), 4);
    expectAllUnavailable(outcomes);
    expect((outcomes[0] as V3IssuerUnavailableException).message).toBe('The issuer JWKS timed out');
    expect(jwks.fetches).toBe(1);
  });

  it('still refetches a fresh set for unknown kids at most once per cooldown', async () => {
    const subject = verifier({ cooldownMs: 200, maxAgeMs: 60_000 });
    await subject.verify(await validJwt('first'));
    await sleep(250);
    const refused = await verifyInBatches(subject, forgedJwts(40), 4);
    for (const outcome of refused) expect(outcome).toBeInstanceOf(V3InvalidTokenException);
    expect(jwks.fetches).toBe(2);
    await sleep(250);
    const rotated = await createSigningKey('rotated-key');
    jwks.keys = [key, rotated];
    const principal = await subject.verify(
      await signJwt(rotated, { iss: ISSUER, sub: 'rotated', exp: nowSeconds() + 300 }),
    );
    expect(principal.clientId).toBe('rotated');
    expect(jwks.fetches).toBe(3);
  });
});
