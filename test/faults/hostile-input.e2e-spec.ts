import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic } from '../support/v3-token-auth-app.js';
import {
  rawRequest,
  startGateway,
  startModuleApp,
  startScriptedIssuer,
  type GatewayInstance,
  type ModuleInstance,
  type ScriptedAnswer,
  type ScriptedIssuer,
  type TimedAnswer,
} from './fault-harness.js';

const SEED = 20_240_404;
const RUNS = 150;
const KNOWN = { id: 'prop-client', secret: 'prop-client-right-secret' };

/** Characters Node sends in a header value: tab, visible ASCII and Latin-1 (RFC 9110 field-content). */
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) },
  { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)) },
  { weight: 1, arbitrary: fc.constant('\t') },
);
const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength });
/** A secret distinctive enough that finding it in a body means it was echoed. */
const secretText = fc.string({ unit: headerChar, minLength: 4, maxLength: 40 }).map((s) => `Zq9${s}`);
/** A secret the issuer would accept the shape of (no control characters), for the issuer-answer properties. */
const cleanSecret = fc.stringMatching(/^[A-Za-z0-9!#$%&*+.^_~-]{6,30}$/).map((s) => `Zq9${s}`);
const isGenerated = (value: string): boolean => value.startsWith('Zq9');
const tokenText = fc.stringMatching(/^[A-Za-z0-9._~+/-]{8,64}$/);
const base64 = (text: string | Uint8Array) => Buffer.from(text).toString('base64');

function expectJsonWithout(answer: TimedAnswer, secrets: (string | undefined)[]): void {
  expect(answer.headers.get('content-type')).toMatch(/application\/json/);
  expect(() => JSON.parse(answer.text) as unknown).not.toThrow();
  for (const secret of secrets) {
    if (secret !== undefined && secret.trim().length >= 6) expect(answer.text).not.toContain(secret);
  }
}

/** One hostile Authorization header, with the secret it carries (if any). */
const authorizationHeader: fc.Arbitrary<{ header: string; secret?: string }> = fc.oneof(
  headerText(300).map((header) => ({ header })),
  fc
    .tuple(fc.constantFrom('Basic ', 'basic ', 'BASIC  ', 'Basic\t'), fc.uint8Array({ maxLength: 200 }))
    .map(([scheme, bytes]) => ({ header: `${scheme}${base64(bytes)}` })),
  fc.tuple(fc.string({ maxLength: 30 }), secretText).map(([id, secret]) => ({
    header: `Basic ${base64(`${id}:${secret}`)}`,
    secret,
  })),
  fc.tuple(fc.stringMatching(/^[a-z0-9-]{1,20}$/), cleanSecret).map(([id, secret]) => ({
    header: `Basic ${base64(`${id}:${secret}`)}`,
    secret,
  })),
  cleanSecret.map((secret) => ({ header: `Basic ${base64(`${KNOWN.id}:${secret}`)}`, secret })),
  fc.constant({ header: basic(KNOWN.id, KNOWN.secret) }),
  fc.tuple(fc.constantFrom('Basic ', 'Bearer ', 'Digest ', ''), headerText(60)).map(([scheme, rest]) => ({
    header: `${scheme}${rest}`,
  })),
  tokenText.map((token) => ({ header: `Bearer ${token}`, secret: token })),
  fc.integer({ min: 4000, max: 7000 }).map((size) => ({ header: `Basic ${'QUFB'.repeat(size / 4)}` })),
);

const FIELDS = ['grant_type', 'client_id', 'client_secret', 'username', 'password', 'refresh_token', 'scope'];
const SECRET_FIELDS = new Set(['client_secret', 'password', 'refresh_token']);
const fieldValue = fc.oneof(
  fc.constantFrom('client_credentials', 'password', 'refresh_token', KNOWN.id, KNOWN.secret, '', 'jdoe'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 4000, max: 5000 }).map((size) => 'x'.repeat(size)),
  secretText,
);

/** One hostile `POST /token` request, with the secret values it carries. */
const tokenRequest: fc.Arbitrary<{ headers: Record<string, string>; body: string; secrets: string[] }> =
  fc.oneof(
    fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 12 })), fieldValue), {
        maxLength: 9,
      })
      .map((pairs) => ({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(pairs).toString(),
        secrets: pairs.filter(([name]) => SECRET_FIELDS.has(name)).map(([, value]) => value),
      })),
    fc
      .dictionary(
        fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 12 })),
        fc.oneof(fieldValue, fc.jsonValue({ maxDepth: 2 })),
        { maxKeys: 8 },
      )
      .map((object) => ({
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(object),
        secrets: Object.entries(object)
          .filter(([name, value]) => SECRET_FIELDS.has(name) && typeof value === 'string')
          .map(([, value]) => value as string),
      })),
    fc
      .tuple(
        fc.constantFrom(
          'application/json',
          'application/x-www-form-urlencoded',
          'text/plain',
          'application/xml',
          'multipart/form-data',
          'application/json; charset=latin-99',
        ),
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.jsonValue().map((value) => JSON.stringify(value).slice(0, -1)),
        ),
      )
      .map(([type, body]) => ({ headers: { 'content-type': type }, body, secrets: [] })),
    fc.constantFrom('application/x-www-form-urlencoded', 'application/json').map((type) => {
      const fields = { grant_type: 'client_credentials', client_id: KNOWN.id, client_secret: KNOWN.secret };
      return {
        headers: { 'content-type': type },
        body: type === 'application/json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
        secrets: [],
      };
    }),
    fc.tuple(secretText, fc.constantFrom('client_credentials', 'password')).map(([secret, grant]) => ({
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${base64(`${KNOWN.id}:${secret}`)}`,
      },
      body: new URLSearchParams({ grant_type: grant, username: 'jdoe', password: secret }).toString(),
      secrets: [secret],
    })),
  );

/** A token endpoint answer and what the gateway must make of it. */
interface IssuerAnswer {
  answer: ScriptedAnswer;
  /** The answer carries a usable token (the gateway answers 200 with it). */
  valid: boolean;
  /** It is cached: a second request does not reach the issuer. */
  cached: boolean;
  /**
   * The issuer refused the grant (400/401/403): a `credential` refusal (the secret) is remembered briefly, so not
   * asked again at once; a `request` refusal (`invalid_scope`, …) is the caller's 400 and never remembered.
   */
  refused: false | 'credential' | 'request';
}

/** The README's failure taxonomy for a client_credentials grant: which refusals are the secret's. */
function refusalKind(status: number, error: unknown): 'credential' | 'request' {
  if (error === 'invalid_client' || error === 'unauthorized_client') return 'credential';
  const requestErrors = [
    'invalid_request',
    'invalid_scope',
    'unsupported_grant_type',
    'invalid_target',
    'invalid_grant',
  ];
  if (typeof error === 'string' && requestErrors.includes(error)) return 'request';
  return status === 400 ? 'request' : 'credential';
}

const json = (status: number, body: unknown, type = 'application/json'): ScriptedAnswer => ({
  status,
  headers: { 'content-type': type },
  body: JSON.stringify(body),
});

const validResponse = fc.record(
  {
    access_token: tokenText,
    token_type: fc.constantFrom('Bearer', 'bearer', 'BEARER'),
    expires_in: fc.integer({ min: 0, max: 86_400 }),
    refresh_token: tokenText,
    refresh_expires_in: fc.integer({ min: 0, max: 86_400 }),
    scope: fc.string({ maxLength: 30 }),
    session_state: fc.string({ maxLength: 10 }),
  },
  { requiredKeys: ['access_token', 'token_type', 'expires_in'] },
);

const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
  fc.constant(''),
);
const badLifetime = fc.oneof(
  fc.integer({ min: -1_000_000_000, max: -1 }),
  fc.double({ min: 1.5, max: 1e6, noNaN: true, noInteger: true }),
  fc.constantFrom(1e12, Number.MAX_SAFE_INTEGER, 1e308, 10 * 365 * 24 * 3600 + 1),
  fc.constantFrom('soon', '300s', '-5', '1e3', ''),
  fc.boolean(),
  fc.object({ maxDepth: 1 }),
);

/** Mutations that make a valid answer unusable, given the caller's secret (a hostile issuer may echo it). */
const badAnswer = (secret: string): fc.Arbitrary<ScriptedAnswer> =>
  fc.oneof(
    validResponse.map(({ access_token: _, ...rest }) => json(200, rest)),
    fc.tuple(validResponse, notAString).map(([body, value]) => json(200, { ...body, access_token: value })),
    validResponse.map((body) => json(200, { ...body, access_token: `${secret} ${body.access_token}` })),
    validResponse.map((body) => json(200, { ...body, access_token: `tök${body.access_token}` })),
    validResponse.map((body) => json(200, { ...body, access_token: 'a'.repeat(20_000) })),
    fc
      .tuple(validResponse, fc.oneof(fc.constantFrom('mac', 'Basic', ''), fc.integer()))
      .map(([body, type]) => json(200, { ...body, token_type: type })),
    validResponse.map(({ token_type: _, ...rest }) => json(200, rest)),
    validResponse.map(({ expires_in: _, ...rest }) => json(200, rest)),
    fc.tuple(validResponse, badLifetime).map(([body, value]) => json(200, { ...body, expires_in: value })),
    fc
      .tuple(validResponse, badLifetime)
      .map(([body, value]) => json(200, { ...body, refresh_expires_in: value })),
    fc.tuple(validResponse, notAString).map(([body, value]) => json(200, { ...body, refresh_token: value })),
    fc
      .tuple(validResponse, fc.oneof(fc.integer(), fc.array(fc.string()), fc.boolean()))
      .map(([body, value]) => json(200, { ...body, scope: value })),
    fc
      .oneof(fc.array(fc.jsonValue()), fc.integer(), fc.string(), fc.constant(null))
      .map((value) => json(200, value)),
    validResponse.map((body) => ({ status: 200, body: JSON.stringify(body).slice(0, -3) })),
    fc.constant({
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: `<!DOCTYPE html><html><body><h1>Login</h1><p>${secret}</p></body></html>`,
    }),
    fc
      .string({ maxLength: 100 })
      .map((body) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: `~${body}` })),
    fc.constant({ status: 200, body: '' }),
    validResponse.map((body) => json(200, { ...body, padding: 'p'.repeat(70_000) })),
    fc
      .tuple(validResponse, fc.constantFrom(201, 204, 301, 302, 404, 405, 418))
      .map(([body, status]) => json(status, body)),
  );

const refusedAnswer = (
  secret: string,
): fc.Arbitrary<{ answer: ScriptedAnswer; kind: 'credential' | 'request' }> =>
  fc
    .tuple(
      fc.constantFrom(400, 401, 403),
      fc.oneof(
        fc.constantFrom('invalid_client', 'invalid_grant', 'unauthorized_client', 'invalid_scope'),
        fc.string({ maxLength: 20 }),
      ),
      fc.oneof(fc.constant(`client secret ${secret} is wrong`), fc.string({ maxLength: 300 })),
      fc.boolean(),
    )
    .map(([status, error, description, asHtml]) =>
      asHtml
        ? {
            answer: { status, headers: { 'content-type': 'text/html' }, body: `<html>${secret}</html>` },
            kind: refusalKind(status, undefined),
          }
        : {
            answer: json(status, { error, error_description: description }),
            kind: refusalKind(status, error),
          },
    );

const issuerAnswer = (secret: string): fc.Arbitrary<IssuerAnswer> =>
  fc.oneof(
    {
      weight: 1,
      arbitrary: validResponse.map((body) => ({
        answer: json(200, body),
        valid: true,
        // The skew takes at most a tenth of a token's life, so every token that lives at all is reused.
        cached: body.expires_in > 0,
        refused: false as const,
      })),
    },
    {
      weight: 5,
      arbitrary: badAnswer(secret).map((answer) => ({
        answer,
        valid: false,
        cached: false,
        refused: false as const,
      })),
    },
    {
      weight: 1,
      arbitrary: refusedAnswer(secret).map(({ answer, kind }) => ({
        answer,
        valid: false,
        cached: false,
        refused: kind,
      })),
    },
  );

/** Issue 4, item 8: property-based hostile input against the real gateway and real HTTP token endpoints. */
describe('faults: hostile input (fast-check, fixed seed)', () => {
  describe('from callers, through the gateway and the sandbox issuer', () => {
    let issuer: TokenServer;
    let gateway: GatewayInstance;

    beforeAll(async () => {
      issuer = await startTokenServer({ clients: { [KNOWN.id]: KNOWN.secret } });
      gateway = await startGateway({
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
      });
    });

    afterAll(async () => {
      await gateway.close();
      await issuer.close();
    });

    it('answers any Authorization header with 200 or a JSON 4xx/503, never a 500, never echoing it', async () => {
      // This property is about how hostile headers map to answers: a gateway of its own, with the wrong-secret
      // throttle and the cold-grant cap out of its way (they have their own specs), so refusals stay 401s.
      const unthrottled = await startGateway({
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
        TOKEN_MAX_FAILED_ATTEMPTS: '100000',
        TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: '0',
      });
      const seen = new Set<number>();
      try {
        await fc.assert(
          fc.asyncProperty(authorizationHeader, async ({ header, secret }) => {
            const answer = await rawRequest(`${unthrottled.url}/v3/anything`, {
              headers: { authorization: header },
            });
            seen.add(answer.status);
            expect([200, 400, 401, 503]).toContain(answer.status);
            const credentials = /^\S+\s+(.*)$/.exec(header.trim())?.[1];
            expectJsonWithout(answer, [
              secret,
              credentials && credentials.length >= 8 ? credentials : undefined,
            ]);
            if (answer.status === 401) expect(answer.headers.get('www-authenticate')).not.toBeNull();
          }),
          { seed: SEED, numRuns: RUNS },
        );
      } finally {
        await unthrottled.close();
      }
      expect([...seen]).toEqual(expect.arrayContaining([200, 400, 401]));
      expect(issuer.issuer.grantCount()).toBeGreaterThan(10);
    });

    it('answers any POST /token body with 200 or an OAuth JSON 4xx/503, never a 500, never echoing a secret', async () => {
      const seen = new Set<number>();
      await fc.assert(
        fc.asyncProperty(tokenRequest, async ({ headers, body, secrets }) => {
          const answer = await rawRequest(`${gateway.url}/token`, { method: 'POST', headers, body });
          seen.add(answer.status);
          expect([200, 400, 401, 413, 415, 429, 503]).toContain(answer.status);
          expectJsonWithout(answer, secrets.filter(isGenerated));
          if (answer.status !== 200) expect(typeof answer.body?.error).toBe('string');
          else expect(typeof answer.body?.access_token).toBe('string');
        }),
        { seed: SEED, numRuns: RUNS },
      );
      expect([...seen]).toEqual(expect.arrayContaining([200, 400, 401]));
    });
  });

  describe('from the token endpoint (a scripted issuer)', () => {
    let scripted: ScriptedIssuer;
    let gateway: GatewayInstance;
    let run = 0;

    beforeAll(async () => {
      scripted = await startScriptedIssuer();
      gateway = await startGateway({
        V3_TOKEN_URL: scripted.tokenUrl,
        GATEWAY_ROUTES: '/v3=http://127.0.0.1:9',
        // This property is about how issuer answers map to ours; the wrong-secret throttle and the cold-grant cap
        // (which would answer 429 once this one caller address spent its allowance) have their own specs.
        TOKEN_MAX_FAILED_ATTEMPTS: '100000',
        TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: '0',
      });
    });

    afterAll(async () => {
      await gateway.close();
      await scripted.close();
    });

    // 150 runs of two requests each (a refused request reaches the issuer both times): generous on a loaded machine.
    it('turns any answer into 200 (valid), 401 (refused secret), 400 (refused request) or 502, never a 500; caches only valid answers; remembers only refused secrets; never echoes the secret', async () => {
      const kinds = new Set<string>();
      const property = fc.asyncProperty(
        cleanSecret.chain((secret) => fc.tuple(fc.constant(secret), issuerAnswer(secret))),
        async ([secret, expected]) => {
          run += 1;
          kinds.add(expected.valid ? 'valid' : expected.refused ? `refused ${expected.refused}` : 'bad');
          const form = {
            grant_type: 'client_credentials',
            client_id: `answer-${run}`,
            client_secret: secret,
          };
          scripted.answer = () => expected.answer;
          const before = scripted.count;

          const first = await gateway.token(form);
          const second = await gateway.token(form);

          expectJsonWithout(first, [secret]);
          expectJsonWithout(second, [secret]);
          if (expected.valid) {
            expect(first.status).toBe(200);
            expect(first.body?.access_token).toBe(
              (JSON.parse(expected.answer.body) as { access_token: string }).access_token,
            );
            expect(scripted.count - before).toBe(expected.cached ? 1 : 2);
          } else if (expected.refused === 'credential') {
            expect(first.status).toBe(401);
            expect(second.status).toBe(401);
            expect(scripted.count - before).toBe(1);
          } else if (expected.refused === 'request') {
            expect(first.status).toBe(400);
            expect(second.status).toBe(400);
            expect(typeof first.body?.error).toBe('string');
            expect(scripted.count - before).toBe(2);
          } else {
            expect(first.status).toBe(502);
            expect(second.status).toBe(502);
            expect(scripted.count - before).toBe(2);
          }
        },
      );
      await fc.assert(property, { seed: SEED, numRuns: RUNS });
      expect([...kinds].sort()).toEqual(['bad', 'refused credential', 'refused request', 'valid']);
      expect(await gateway.metric('v3_token_grants_total', { outcome: 'protocol_error' })).toBeGreaterThan(0);
    }, 120_000);
  });

  describe('retryable answers from the token endpoint (module app, one attempt, no breaker)', () => {
    let scripted: ScriptedIssuer;
    let app: ModuleInstance;
    let run = 0;

    beforeAll(async () => {
      scripted = await startScriptedIssuer();
      app = await startModuleApp({
        tokenUrl: scripted.tokenUrl,
        retry: { attempts: 1 },
        circuitBreaker: { failureThreshold: 1_000_000 },
        timeoutMs: 500,
      });
    });

    afterAll(async () => {
      await app.close();
      await scripted.close();
    });

    it('answers 503 with Retry-After for 408/5xx/dropped answers, and never caches them', async () => {
      const answer = fc.oneof(
        fc
          .tuple(
            // 429 is the issuer throttling this client: answered 429 and honoured per client (issuer-protection).
            fc.constantFrom(408, 500, 502, 503, 504),
            fc.option(
              fc.oneof(
                fc.integer({ min: 0, max: 100 }).map(String),
                fc.constantFrom('soon', '-1', 'Wed, 21 Oct 2015 07:28:00 GMT'),
              ),
              { nil: undefined },
            ),
            fc.string({ maxLength: 80 }),
          )
          .map(([status, retryAfter, body]): ScriptedAnswer => ({
            status,
            headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
            body,
          })),
        fc.constant<ScriptedAnswer>({ status: 0, body: '', drop: true }),
      );
      await fc.assert(
        fc.asyncProperty(cleanSecret, answer, async (secret, scriptedAnswer) => {
          run += 1;
          scripted.answer = () => scriptedAnswer;
          const header = basic(`retryable-${run}`, secret);
          const before = scripted.count;

          const first = await app.me(header);
          const second = await app.me(header);

          for (const reply of [first, second]) {
            expect(reply.status).toBe(503);
            expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
            expectJsonWithout(reply, [secret]);
          }
          expect(scripted.count - before).toBe(2);
        }),
        { seed: SEED, numRuns: 60 },
      );
    });
  });
});
