import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PinoLogger } from 'nestjs-pino';
import { symbols } from 'pino';
import { createGatewayApp, listenGateway } from '../src/app.factory.js';
import { parseGatewayConfig } from '../src/config/gateway.config.js';
import { metricValue } from '../../../test/faults/fault-harness.js';
import { freePort } from '../../../test/support/free-port.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';
import { rawRequest } from './support/raw-http.js';

interface LogLine {
  level: number;
  msg: string;
  context?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** Runs `task(0..count-1)` with at most `concurrency` in flight; resolves with every result, in order. */
async function inParallel<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

describe('quiet under attack (e2e): throttle and refusal warnings are aggregated', () => {
  const lines: LogLine[] = [];
  let issuer: TokenServer;
  let echo: EchoServer;
  let app: NestFastifyApplication;
  let port: number;
  let closed = false;

  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const answer = await rawRequest(port, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1');
    return metricValue(answer.body, name, labels);
  };

  beforeAll(async () => {
    [issuer, echo] = await Promise.all([
      startTokenServer({ clients: { victim: 'right-secret' } }),
      startEchoServer(),
    ]);
    port = await freePort();
    const config = parseGatewayConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: String(port),
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES: `/echo=${echo.url}`,
      TOKEN_MAX_FAILED_ATTEMPTS: '3',
    });
    app = await createGatewayApp(config);
    const root = PinoLogger.root as unknown as Record<symbol, unknown> & { level: string };
    root[symbols.streamSym] = { write: (line: string) => lines.push(JSON.parse(line) as LogLine) };
    root.level = 'info';
    await listenGateway(app, config);
  }, 60_000);

  afterAll(async () => {
    if (!closed) await app?.close();
    await Promise.all([issuer?.close(), echo?.close()]);
  });

  it('writes one warning line for 500 throttled wrong secrets of one client, one for 500 bad paths of one address, then each count once', async () => {
    const statuses = await inParallel(500, 10, async (index) => {
      const answer = await rawRequest(
        port,
        `GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic('victim', `guess-${index}`)}`,
        { localAddress: '127.0.0.2' },
      );
      return answer.status;
    });
    const throttled = statuses.filter((status) => status === 429).length;
    expect(statuses.filter((status) => status !== 429 && status !== 401)).toEqual([]);
    expect(throttled).toBeGreaterThanOrEqual(450);
    // One address guessing: its own limit (3) stops it before the client's (6) is reached.
    expect(await metric('v3_token_throttled_total', { reason: 'address' })).toBe(throttled);
    expect(await metric('v3_token_throttled_total', { reason: 'client' })).toBe(0);

    const refused = await inParallel(500, 10, async () => {
      const answer = await rawRequest(
        port,
        `GET /echo/../admin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic('victim', 'right-secret')}`,
        { localAddress: '127.0.0.3' },
      );
      return answer.status;
    });
    expect(refused.filter((status) => status !== 400)).toEqual([]);
    expect(await metric('gateway_edge_refusals_total', { reason: 'bad_path' })).toBe(500);

    const throttleLines = () => lines.filter((line) => line.msg.includes('"victim" throttled'));
    const refusalLines = () =>
      lines.filter((line) => line.msg.startsWith('Refused a request from 127.0.0.3'));
    expect(throttleLines()).toHaveLength(1);
    expect(refusalLines()).toHaveLength(1);
    for (const line of [...throttleLines(), ...refusalLines()]) expect(line.level).toBe(40);

    // 500 wrong secrets at POST /token from one address: one access line per status, not one per request.
    const tokenStatuses = await inParallel(500, 10, async (index) => {
      const body = `grant_type=client_credentials&client_id=stranger&client_secret=guess-${index}`;
      const answer = await rawRequest(
        port,
        `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}`,
        { localAddress: '127.0.0.4', body },
      );
      return answer.status;
    });
    expect(tokenStatuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
    const tokenAccessLines = lines.filter((line) => line.req?.url === '/token');
    expect(tokenAccessLines.map((line) => line.res?.statusCode).sort()).toEqual(
      [...new Set(tokenStatuses)].sort(),
    );
    const repeatsOf = (status: number) => tokenStatuses.filter((answered) => answered === status).length - 1;

    // The windows (a minute) close at shutdown at the latest: one line each with the count of the repeats.
    await app.close();
    closed = true;
    expect(throttleLines().map((line) => line.msg)).toEqual([
      expect.stringContaining('throttled after too many wrong secrets'),
      expect.stringContaining(`— ${throttled - 1} more times in the last`),
    ]);
    expect(refusalLines().map((line) => line.msg)).toEqual([
      expect.stringContaining('(400)'),
      expect.stringContaining('— 499 more times in the last'),
    ]);
    const tokenRepeats = lines
      .map((line) =>
        /^Requests from 127\.0\.0\.4 answered (\d{3}) — (\d+) more times? in the last/.exec(line.msg),
      )
      .filter((match) => match !== null)
      .map((match) => ({ status: Number(match[1]), repeats: Number(match[2]) }))
      .sort((a, b) => a.status - b.status);
    const expectedRepeats = [...new Set(tokenStatuses)]
      .map((status) => ({ status, repeats: repeatsOf(status) }))
      .filter(({ repeats }) => repeats > 0)
      .sort((a, b) => a.status - b.status);
    expect(tokenRepeats).toEqual(expectedRepeats);
    expect(tokenRepeats.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.msg).not.toMatch(/guess-|right-secret/);
  }, 120_000);
});
