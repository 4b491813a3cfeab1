import { describe, it, expect, afterEach } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
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
    'node dist/apps/gateway/main.js exits 1 with the one-line message on a bad value',
    async () => {
      const run = await runMain({ GATEWAY_ROUTES: '/v3=ftp://x', TOKEN_CACHE_HMAC_KEY: 'too-short-secret' });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).not.toContain('too-short-secret');
      expect(run.stderr.trim()).toMatch(/^Invalid configuration: (GATEWAY_ROUTES|TOKEN_CACHE_HMAC_KEY): /);
    },
  );

  (built ? it : it.skip)(
    'node dist/apps/gateway/main.js drains in-flight requests on SIGTERM, then exits',
    async () => {
      const [issuer, echo, port] = await Promise.all([startTokenServer(), startEchoServer(), freePort()]);
      try {
        const base = `http://127.0.0.1:${port}`;
        let inFlight: Promise<Response> | undefined;
        const run = await runMain(
          {
            NODE_ENV: 'production',
            PORT: String(port),
            HOST: '127.0.0.1',
            LOG_LEVEL: 'warn',
            V3_TOKEN_URL: issuer.tokenUrl,
            GATEWAY_ROUTES: `/echo=${echo.url}`,
          },
          async (stop) => {
            let health: Response | undefined;
            for (let attempt = 0; attempt < 100 && !health; attempt++) {
              health = await fetch(`${base}/health`).catch(() => undefined);
              if (!health) await new Promise((resolve) => setTimeout(resolve, 100));
            }
            expect(health?.status).toBe(200);
            const authorization = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;
            expect((await fetch(`${base}/echo/warm`, { headers: { authorization } })).status).toBe(200);
            inFlight = fetch(`${base}/echo/slow?ms=1000`, { headers: { authorization } });
            while (!echo.seen.some((seen) => seen.url.startsWith('/echo/slow'))) {
              await new Promise((resolve) => setTimeout(resolve, 20));
            }
            stop();
          },
        );
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
          {
            NODE_ENV: 'production',
            PORT: String(port),
            HOST: '127.0.0.1',
            LOG_LEVEL: 'warn',
            V3_TOKEN_URL: issuer.tokenUrl,
            GATEWAY_ROUTES: `/echo=${echo.url}`,
            GATEWAY_ADMIN_PORT: String(adminPort),
            GATEWAY_SHUTDOWN_TIMEOUT_MS: '1500',
            GATEWAY_BODY_IDLE_TIMEOUT_MS: '60000',
            GATEWAY_REQUEST_TIMEOUT_MS: '600000',
          },
          async (stop) => {
            let ready: Response | undefined;
            for (let attempt = 0; attempt < 100 && !ready; attempt++) {
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
    40_000,
  );
});
