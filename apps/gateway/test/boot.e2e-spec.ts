import { describe, it, expect, afterEach, jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { createGatewayApp } from '../src/app.factory.js';
import { reportBootFailure } from '../src/boot-failure.js';
import { GatewayConfigError } from '../src/config/gateway.config.js';
import { freePort } from '../../../test/support/free-port.js';
import { startTokenServer } from '../../../test/support/token-server.js';
import { sleep } from '../../../test/support/wait.js';
import { startEchoServer } from './support/echo-server.js';
import { rawConnect } from './support/raw-http.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MAIN = join(ROOT, 'dist', 'apps', 'gateway', 'main.js');
const LIBRARY = join(ROOT, 'libs', 'v3-token-auth', 'dist', 'index.js');
const built = existsSync(MAIN) && existsSync(LIBRARY);

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runMain(env: Record<string, string>, whenUp?: (stop: () => void) => Promise<void>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (whenUp)
      whenUp(() => child.kill('SIGTERM')).catch((error: unknown) => {
        child.kill('SIGKILL');
        reject(error instanceof Error ? error : new Error(String(error)));
      });
  });
}

/** The environment of a production start on `port` with one route, warnings only, and `extra` on top. */
function productionEnv(
  port: number,
  tokenUrl: string,
  routes: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    V3_TOKEN_URL: tokenUrl,
    GATEWAY_ROUTES: routes,
    ...extra,
  };
}

/** The first answer of `GET /health` on `port`, polled every 100 ms for up to 40 s; undefined when none came. */
async function firstHealthAnswer(port: number): Promise<Response | undefined> {
  let health: Response | undefined;
  for (let attempt = 0; attempt < 400 && !health; attempt++) {
    health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    if (!health) await sleep(100);
  }
  return health;
}

/** `GET /health` of the gateway on `port` once it answers and its token endpoint probe has a verdict. */
async function healthOnceProbed(port: number): Promise<unknown> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const answer = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    const body = (await answer?.json()) as { info?: { issuer?: { endpoint?: string } } } | undefined;
    const endpoint = body?.info?.issuer?.endpoint;
    if (endpoint !== undefined && endpoint !== 'unknown') return body;
    await sleep(100);
  }
  throw new Error(`the gateway on port ${port} never showed a probed issuer in /health`);
}

/** A spawned gateway loads its whole build before it answers: on a loaded 2-core machine that takes seconds. */
jest.setTimeout(90_000);

describe('gateway boot', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  it('reports a configuration error as its one line, without a stack trace, and exit code 1', () => {
    const lines: string[] = [];
    const code = reportBootFailure(
      new GatewayConfigError(
        'GATEWAY_ROUTES: "/v3=ftp://x" — each entry is /prefix=http(s)://host[:port], comma-separated',
      ),
      (line) => lines.push(line),
    );
    expect(code).toBe(1);
    expect(lines).toEqual([
      'Invalid configuration: GATEWAY_ROUTES: "/v3=ftp://x" — each entry is /prefix=http(s)://host[:port], comma-separated\n',
    ]);
  });

  it('reports any other boot failure on one line too', () => {
    const lines: string[] = [];
    expect(
      reportBootFailure(new Error('listen EADDRINUSE\n    at stack frame'), (line) => lines.push(line)),
    ).toBe(1);
    expect(lines).toEqual(['Gateway failed to start: listen EADDRINUSE at stack frame\n']);
  });

  it('validates the environment before Nest starts when no config is given', async () => {
    process.env.GATEWAY_ROUTES = '/v3=ftp://x';
    await expect(createGatewayApp()).rejects.toThrow(
      new GatewayConfigError(
        'GATEWAY_ROUTES: "/v3=ftp://x" — each entry is /prefix=http(s)://host[:port], comma-separated',
      ),
    );
    process.env.GATEWAY_ROUTES = '/v3=http://127.0.0.1:1';
    process.env.V3_GRANT_TYPE = 'password';
    await expect(createGatewayApp()).rejects.toThrow(/^Invalid configuration: V3_CLIENT_ID: is required/);
  });

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js exits 1 with one line per bad value, all of them at once',
    async () => {
      const run = await runMain({
        GATEWAY_ROUTES: '/v3=ftp://x',
        TOKEN_CACHE_HMAC_KEY: 'too-short-secret',
        PORT: 'eighty',
        V3_GRANT_TYPE: 'password',
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).not.toContain('too-short-secret');
      const lines = run.stderr.trim().split('\n');
      for (const line of lines) expect(line).toMatch(/^Invalid configuration: [A-Z0-9_]+: \S/);
      expect(lines.map((line) => /^Invalid configuration: ([A-Z0-9_]+):/.exec(line)?.[1]).sort()).toEqual([
        'GATEWAY_ROUTES',
        'PORT',
        'TOKEN_CACHE_HMAC_KEY',
        // The password grant needs the gateway's own client: a check between variables, reported beside the rest.
        'V3_CLIENT_ID',
        'V3_CLIENT_SECRET',
      ]);
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js reports relations between variables beside bad values',
    async () => {
      const run = await runMain({
        GATEWAY_ROUTES: '/v3=http://127.0.0.1:1',
        LOG_LEVEL: 'loud',
        V3_GRANT_TYPE: 'password',
        V3_CLIENT_SECRET: 'gateway-secret',
      });
      expect(run.code).toBe(1);
      expect(run.stderr).not.toContain('gateway-secret');
      expect(run.stderr.trim().split('\n')).toEqual([
        'Invalid configuration: LOG_LEVEL: "loud" — use one of fatal, error, warn, info, debug, trace, silent',
        "Invalid configuration: V3_CLIENT_ID: is required with V3_GRANT_TYPE=password — the gateway's own client id",
      ]);
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js on a taken port: one line naming PORT, nothing started before it',
    async () => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port } = holder.address() as AddressInfo;
      try {
        const run = await runMain({
          PORT: String(port),
          HOST: '127.0.0.1',
          GATEWAY_ROUTES: '/v3=http://127.0.0.1:1',
        });
        expect(run.code).toBe(1);
        expect(run.stdout).toBe('');
        expect(run.stderr).toBe(
          `Gateway failed to start: port ${port} is in use on 127.0.0.1 — set PORT to a free port, or stop what holds it\n`,
        );
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
    },
  );

  (built ? it.each : it.skip.each)(['no-such-host.invalid', '192.0.2.1'])(
    'node dist/apps/gateway/main.js with HOST=%s, no address of this machine: one line naming HOST',
    async (host) => {
      const run = await runMain({
        PORT: String(await freePort()),
        HOST: host,
        GATEWAY_ROUTES: '/v3=http://127.0.0.1:1',
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(
        new RegExp(
          `^Gateway failed to start: HOST: "${host.replace(/\./g, '\\.')}" is not an address of this machine \\(E[A-Z_]+\\) — set HOST to an interface address, such as 0\\.0\\.0\\.0 \\(every interface\\) or 127\\.0\\.0\\.1\n$`,
        ),
      );
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js on a taken GATEWAY_ADMIN_PORT: one line naming GATEWAY_ADMIN_PORT',
    async () => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port: adminPort } = holder.address() as AddressInfo;
      try {
        const run = await runMain({
          PORT: String(await freePort()),
          HOST: '127.0.0.1',
          GATEWAY_ADMIN_PORT: String(adminPort),
          GATEWAY_ROUTES: '/v3=http://127.0.0.1:1',
        });
        expect(run.code).toBe(1);
        expect(run.stdout).toBe('');
        expect(run.stderr).toMatch(
          new RegExp(
            `^Gateway failed to start: port ${adminPort} is in use on 127\\.0\\.0\\.1 — set GATEWAY_ADMIN_PORT to a free port`,
          ),
        );
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js with V3_TOKEN_URL on a closed port: boots, warns once, /health says unreachable',
    async () => {
      const [port, closed] = await Promise.all([freePort(), freePort()]);
      const tokenUrl = `http://127.0.0.1:${closed}/token`;
      let body: unknown;
      let ready: number | undefined;
      const run = await runMain(
        {
          PORT: String(port),
          HOST: '127.0.0.1',
          V3_TOKEN_URL: tokenUrl,
          GATEWAY_ROUTES: '/v3=http://127.0.0.1:1',
        },
        async (stop) => {
          body = await healthOnceProbed(port);
          ready = (await fetch(`http://127.0.0.1:${port}/health/ready`)).status;
          stop();
        },
      );
      expect(run.code).toBe(0);
      expect(ready).toBe(200);
      expect(body).toMatchObject({
        status: 'degraded',
        info: { issuer: { status: 'degraded', endpoint: 'unreachable', detail: 'ECONNREFUSED' } },
      });
      const warnings = run.stdout.split('\n').filter((line) => line.includes('IssuerProbe'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`token endpoint ${tokenUrl} is unreachable (ECONNREFUSED)`);
      expect(warnings[0]).toMatch(/WARN/);
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js with a real token endpoint: no warning, /health says reachable',
    async () => {
      const [issuer, port] = await Promise.all([startTokenServer(), freePort()]);
      let body: unknown;
      try {
        const run = await runMain(
          {
            PORT: String(port),
            HOST: '127.0.0.1',
            V3_TOKEN_URL: issuer.tokenUrl,
            GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
          },
          async (stop) => {
            body = await healthOnceProbed(port);
            stop();
          },
        );
        // The whole run on failure: its stderr says why it did not exit 0 (a shutdown error, a port taken at boot).
        expect(run).toMatchObject({ code: 0 });
        expect(body).toMatchObject({
          status: 'ok',
          info: { issuer: { status: 'up', endpoint: 'reachable' } },
        });
        expect(run.stdout).not.toContain('IssuerProbe');
        expect(issuer.issuer.successfulGrants()).toBe(0);
      } finally {
        await issuer.close();
      }
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js on SIGTERM: a request pipelined behind one in flight gets a JSON 503 and the connection ends',
    async () => {
      const [issuer, echo, port] = await Promise.all([startTokenServer(), startEchoServer(), freePort()]);
      try {
        const authorization = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;
        const request = (path: string) =>
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\n\r\n`;
        let received = '';
        let closed: Promise<void> | undefined;
        const run = await runMain(productionEnv(port, issuer.tokenUrl, `/echo=${echo.url}`), async (stop) => {
          await firstHealthAnswer(port);
          expect(
            (await fetch(`http://127.0.0.1:${port}/echo/warm`, { headers: { authorization } })).status,
          ).toBe(200);
          const socket = await rawConnect(port);
          socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
          closed = new Promise((resolve) => socket.once('close', () => resolve()));
          socket.write(request('/echo/slow?ms=800'));
          while (!echo.seen.some((seen) => seen.url.startsWith('/echo/slow'))) await sleep(20);
          stop();
          await sleep(200);
          socket.write(request('/echo/after-stop'));
        });
        expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
        await closed;
        expect(received.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 503']);
        const last = received.slice(received.lastIndexOf('HTTP/1.1 503'));
        expect(last.toLowerCase()).toContain('connection: close');
        expect(JSON.parse(last.slice(last.indexOf('\r\n\r\n') + 4))).toMatchObject({
          statusCode: 503,
          message: expect.stringMatching(/shutting down/),
        });
        expect(echo.seen.some((seen) => seen.url === '/echo/after-stop')).toBe(false);
      } finally {
        await Promise.all([issuer.close(), echo.close()]);
      }
    },
    30_000,
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js on SIGTERM: a connection that sent nothing, or half a head, is ended at once',
    async () => {
      const [issuer, port] = await Promise.all([startTokenServer(), freePort()]);
      try {
        const ended: Array<Promise<number>> = [];
        let stoppedAt = 0;
        const run = await runMain(
          productionEnv(port, issuer.tokenUrl, `/echo=http://127.0.0.1:9`, {
            // Neither timeout ends these connections during the test: only the drain can.
            GATEWAY_SHUTDOWN_TIMEOUT_MS: '20000',
            GATEWAY_HEADERS_TIMEOUT_MS: '20000',
          }),
          async (stop) => {
            await firstHealthAnswer(port);
            for (const sent of ['', 'GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\n']) {
              const socket = await rawConnect(port, { localAddress: '127.0.0.2' });
              if (sent) socket.write(sent);
              ended.push(
                new Promise((resolve) => socket.once('close', () => resolve(Date.now() - stoppedAt))),
              );
            }
            await sleep(100);
            stoppedAt = Date.now();
            stop();
          },
        );
        expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
        const afterStop = await Promise.all(ended);
        // Well inside the 20 s deadline (a few seconds on a loaded machine; the deadline is what it was before).
        expect(afterStop.every((ms) => ms < 10_000)).toBe(true);
      } finally {
        await issuer.close();
      }
    },
    60_000,
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js drains in-flight requests on SIGTERM, then exits',
    async () => {
      const [issuer, echo, port] = await Promise.all([startTokenServer(), startEchoServer(), freePort()]);
      try {
        const base = `http://127.0.0.1:${port}`;
        let inFlight: Promise<Response> | undefined;
        const run = await runMain(productionEnv(port, issuer.tokenUrl, `/echo=${echo.url}`), async (stop) => {
          expect((await firstHealthAnswer(port))?.status).toBe(200);
          const authorization = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;
          expect((await fetch(`${base}/echo/warm`, { headers: { authorization } })).status).toBe(200);
          inFlight = fetch(`${base}/echo/slow?ms=1000`, { headers: { authorization } });
          while (!echo.seen.some((seen) => seen.url.startsWith('/echo/slow'))) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          stop();
        });
        expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
        const drained = await inFlight;
        expect(drained?.status).toBe(200);
        expect(await drained?.json()).toMatchObject({ url: '/echo/slow?ms=1000' });
        await expect(fetch(`${base}/health`)).rejects.toThrow();
      } finally {
        await Promise.all([issuer.close(), echo.close()]);
      }
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js on SIGTERM: readiness 503 at once, a trickling upload cut at the deadline, exit 0',
    async () => {
      const [issuer, echo, port, adminPort] = await Promise.all([
        startTokenServer(),
        startEchoServer(),
        freePort(),
        freePort(),
      ]);
      const authorization = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;
      let upload: Socket | undefined;
      let readiness: number | undefined;
      let signalledAt = 0;
      try {
        const run = await runMain(
          productionEnv(port, issuer.tokenUrl, `/echo=${echo.url}`, {
            GATEWAY_ADMIN_PORT: String(adminPort),
            GATEWAY_SHUTDOWN_TIMEOUT_MS: '1500',
            GATEWAY_BODY_IDLE_TIMEOUT_MS: '60000',
            GATEWAY_REQUEST_TIMEOUT_MS: '600000',
          }),
          async (stop) => {
            let ready: Response | undefined;
            for (let attempt = 0; attempt < 400 && !ready; attempt++) {
              ready = await fetch(`http://127.0.0.1:${adminPort}/health/ready`).catch(() => undefined);
              if (!ready) await sleep(100);
            }
            expect(ready?.status).toBe(200);
            expect(
              (await fetch(`http://127.0.0.1:${port}/echo/warm`, { headers: { authorization } })).status,
            ).toBe(200);
            upload = await rawConnect(port);
            upload.on('error', () => {});
            upload.write(
              `POST /echo/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\n` +
                `Content-Length: 1000000\r\n\r\n`,
            );
            const trickle = setInterval(() => upload?.writable && upload.write('x'), 100);
            upload.once('close', () => clearInterval(trickle));
            await sleep(300);
            signalledAt = Date.now();
            stop();
            for (let attempt = 0; attempt < 50 && readiness === undefined; attempt++) {
              const answer = await fetch(`http://127.0.0.1:${adminPort}/health/ready`).catch(() => undefined);
              if (answer?.status === 503) readiness = 503;
              else await sleep(20);
            }
          },
        );
        const tookMs = Date.now() - signalledAt;
        expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
        expect(readiness).toBe(503);
        // Bounded by the 1.5 s deadline plus at most 1 s to finish closing; generous for a loaded machine.
        expect(tookMs).toBeGreaterThanOrEqual(1400);
        expect(tookMs).toBeLessThan(20_000);
        expect(upload?.destroyed || upload?.readableEnded).toBe(true);
      } finally {
        upload?.destroy();
        await Promise.all([issuer.close(), echo.close()]);
      }
    },
    90_000,
  );
});
