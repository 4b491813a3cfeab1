import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../test/support/free-port.js';
import { waitFor } from '../../../test/support/wait.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Launched {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `npm start`'s launcher as `npm start` runs it (after the build CI ran), with `env` added to this environment. */
function launch(env: Record<string, string>, cwd = root): Launched {
  const child = spawn(process.execPath, [join(root, 'scripts', 'start.mjs')], {
    cwd,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

describe('npm start (scripts/start.mjs)', () => {
  let running: Launched | undefined;

  afterEach(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGTERM');
      await running.exited;
    }
    running = undefined;
  });

  it('passes a value with spaces to the gateway intact, prints the URLs to try, and stops both on SIGTERM', async () => {
    const [port, sandboxPort] = [await freePort(), await freePort()];
    running = launch({
      PORT: String(port),
      SANDBOX_PORT: String(sandboxPort),
      GATEWAY_ROUTES: `/v3 = http://127.0.0.1:${sandboxPort}`,
    });
    await waitFor(() => running!.output().includes('Try:'), 60_000);
    expect(running.output()).toContain(
      `curl -s -u demo-client:demo-secret http://localhost:${port}/v3/orders`,
    );

    const basic = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;
    const answer = await fetch(`http://127.0.0.1:${port}/v3/orders?limit=2`, {
      headers: { authorization: basic },
    });
    expect(answer.status).toBe(200);

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  }, 90_000);

  it('never lets the shell read a value: ";" and ">" reach the config check, which names the variable', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'launcher-'));
    const [port, sandboxPort] = [await freePort(), await freePort()];
    running = launch(
      {
        PORT: String(port),
        SANDBOX_PORT: String(sandboxPort),
        GATEWAY_ROUTES: `/v3=http://127.0.0.1:${sandboxPort};touch pwned>redirected`,
      },
      scratch,
    );
    expect(await running.exited).toBe(1);
    expect(running.output()).toMatch(/GATEWAY_ROUTES/);
    expect(existsSync(join(scratch, 'pwned'))).toBe(false);
    expect(existsSync(join(scratch, 'redirected'))).toBe(false);
    expect(existsSync(join(root, 'redirected'))).toBe(false);
  }, 90_000);

  it('never says the gateway is ready when something else holds its port and answers there', async () => {
    const [port, sandboxPort] = [await freePort(), await freePort()];
    const impostor = createServer((_request, response) => response.end('{"status":"ok"}'));
    await new Promise<void>((resolve) => impostor.listen(port, resolve));
    try {
      running = launch({ PORT: String(port), SANDBOX_PORT: String(sandboxPort) });
      expect(await running.exited).toBe(1);
      expect(running.output()).toMatch(new RegExp(`port ${port} is in use`));
      expect(running.output()).not.toContain('Gateway ready');
      expect(running.output()).not.toContain('Try:');
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  }, 90_000);
});
