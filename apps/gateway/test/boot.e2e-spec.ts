import { describe, it, expect, afterEach } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createGatewayApp } from '../src/app.factory.js';
import { reportBootFailure } from '../src/boot-failure.js';
import { GatewayConfigError } from '../src/config/gateway.config.js';
import { freePort } from '../../../test/support/free-port.js';
import { startTokenServer } from '../../../test/support/token-server.js';
import { startEchoServer } from './support/echo-server.js';

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
        expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toMatchObject(
          run.code === 0 ? { code: 0 } : { signal: 'SIGTERM' },
        );
        const drained = await inFlight;
        expect(drained?.status).toBe(200);
        expect(await drained?.json()).toMatchObject({ url: '/echo/slow?ms=1000' });
        await expect(fetch(`${base}/health`)).rejects.toThrow();
      } finally {
        await Promise.all([issuer.close(), echo.close()]);
      }
    },
  );
});
