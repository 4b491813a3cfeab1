import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { V3TokenAuthModule } from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import {
  basic,
  httpGet,
  startGuardedApp,
  type GuardedApp,
  type HttpAnswer,
  type HttpPlatform,
} from './support/v3-token-auth-app.js';

const CLIENT = { id: 'adapters-client', secret: 'adapters-s3cret-value' };
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** Malformed Authorization headers and the status each one must get. Every one carries the secret somehow. */
const MALFORMED: [name: string, header: string, status: 400 | 401][] = [
  ['Basic without a colon', `Basic ${b64(`${CLIENT.id}${CLIENT.secret}`)}`, 401],
  ['Basic with bad base64', `Basic !${CLIENT.secret}!`, 401],
  [
    'Basic with base64 of the wrong length',
    `Basic ${b64(`${CLIENT.id}:${CLIENT.secret}`).replace(/=+$/, '')}x`,
    401,
  ],
  ['Basic with an empty id', `Basic ${b64(`:${CLIENT.secret}`)}`, 401],
  ['Basic with an empty secret', `Basic ${b64(`${CLIENT.id}:`)}`, 401],
  ['Basic with control characters', `Basic ${b64(`${CLIENT.id}:${CLIENT.secret}\u0001\u0007`)}`, 400],
  ['Basic with a newline in the id', `Basic ${b64(`bad\nid:${CLIENT.secret}`)}`, 400],
  ['Basic that is not UTF-8', `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x61]).toString('base64')}`, 401],
  [
    'an oversized (10 KB) header',
    `Basic ${b64(`${CLIENT.id}:${CLIENT.secret}${'x'.repeat(10 * 1024)}`)}`,
    400,
  ],
  ['an unknown scheme', `Digest username="${CLIENT.id}", response="${CLIENT.secret}"`, 401],
  ['a scheme alone', 'Basic', 401],
  ['Basic with two credentials', `Basic ${b64(`${CLIENT.id}:${CLIENT.secret}`)} ${b64(CLIENT.secret)}`, 401],
  ['a Bearer token with spaces', `Bearer ${CLIENT.secret} ${CLIENT.secret}`, 401],
  ['an empty header', '', 401],
];

describe.each(['express', 'fastify'] as HttpPlatform[])('V3TokenAuthGuard on %s', (platform) => {
  let issuer: TokenServer;
  let app: GuardedApp;

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: { [CLIENT.id]: CLIENT.secret, other: 'other-secret' } });
    app = await startGuardedApp(
      [
        V3TokenAuthModule.forRoot({
          tokenUrl: issuer.tokenUrl,
          retry: { attempts: 1 },
          circuitBreaker: { failureThreshold: 50 },
        }),
      ],
      platform,
    );
  });

  afterAll(async () => {
    await app?.close();
    await issuer?.close();
  });

  const expectJsonError = (answer: HttpAnswer, status: number): void => {
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.body).toMatchObject({ statusCode: status });
    expect(typeof answer.body?.message).toBe('string');
  };

  it('authenticates Basic client credentials and hands the principal to the route', async () => {
    const answer = await app.me(basic(CLIENT.id, CLIENT.secret));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ clientId: CLIENT.id, tokenType: 'Bearer' });
    expect(typeof answer.body?.accessToken).toBe('string');
    expect(answer.body?.expiresAt).toBeGreaterThan(Date.now());
    expect(issuer.issuer.grantCount(CLIENT.id)).toBe(1);
  });

  it('lets @Public() routes through without credentials', async () => {
    const answer = await httpGet(`${app.url}/open`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ open: true });
  });

  it('answers 401 with a JSON body and WWW-Authenticate without credentials', async () => {
    const answer = await app.me();
    expectJsonError(answer, 401);
    expect(answer.headers.get('www-authenticate')).toMatch(/Basic realm="v3-token"/);
    expect(answer.headers.get('www-authenticate')).toMatch(/Bearer realm="v3-token"/);
  });

  it('answers 401 with WWW-Authenticate for a refused secret', async () => {
    const answer = await app.me(basic(CLIENT.id, 'a-wrong-secret'));
    expectJsonError(answer, 401);
    expect(answer.headers.get('www-authenticate')).toMatch(/Basic realm=/);
    expect(answer.text).not.toContain('a-wrong-secret');
  });

  it.each(MALFORMED.map(([name, header, status]) => ({ name, header, status })))(
    'answers $name with a JSON $status that does not echo the secret',
    async ({ header, status }) => {
      const answer = await app.me(header);
      expectJsonError(answer, status);
      if (status === 401) expect(answer.headers.get('www-authenticate')).toMatch(/realm=/);
      expect(answer.text).not.toContain(CLIENT.secret);
      const credentials = header.split(' ')[1];
      if (credentials) expect(answer.text).not.toContain(credentials);
    },
  );

  it('accepts two spaces after the scheme (RFC 7235: 1*SP) as the same credentials', async () => {
    const before = issuer.issuer.grantCount(CLIENT.id);
    const single = await app.me(basic(CLIENT.id, CLIENT.secret));
    const double = await app.me(`Basic  ${b64(`${CLIENT.id}:${CLIENT.secret}`)}`);
    expect(double.status).toBe(200);
    expect(double.body?.accessToken).toBe(single.body?.accessToken);
    expect(issuer.issuer.grantCount(CLIENT.id)).toBe(before);
  });

  it("runs the same authentication through Passport's AuthGuard('v3-token')", async () => {
    const header = basic(CLIENT.id, CLIENT.secret);
    const direct = await app.me(header);
    const viaPassport = await httpGet(`${app.url}/passport/me`, header);
    expect(viaPassport.status).toBe(200);
    expect(viaPassport.body).toMatchObject({ clientId: CLIENT.id });
    expect(viaPassport.body?.accessToken).toBe(direct.body?.accessToken);

    const refused = await httpGet(`${app.url}/passport/me`, basic(CLIENT.id, 'wrong'));
    expectJsonError(refused, 401);
    expect(refused.text).not.toContain('wrong');
  });

  it('answers 503 with Retry-After when the issuer is down and nothing is cached', async () => {
    issuer.issuer.setFaults({ mode: 'unavailable', retryAfterSeconds: 3 });
    try {
      const answer = await app.me(basic('other', 'other-secret'));
      expectJsonError(answer, 503);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.text).not.toContain('other-secret');

      const cached = await app.me(basic(CLIENT.id, CLIENT.secret));
      expect(cached.status).toBe(200);
    } finally {
      issuer.issuer.setFaults({ mode: 'none' });
    }
  });
});
