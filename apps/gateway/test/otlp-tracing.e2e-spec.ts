import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GatewayConfigError } from '../src/config/gateway.config.js';
import { startOtlpTracing } from '../src/tracing/otlp-tracing.js';
import { startGateway } from '../../../test/faults/fault-harness.js';
import { freePort } from '../../../test/support/free-port.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { basic, eventually } from '../../../test/support/v3-token-auth-app.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MAIN = join(ROOT, 'dist', 'apps', 'gateway', 'main.js');
const built = existsSync(MAIN) && existsSync(join(ROOT, 'libs', 'v3-token-auth', 'dist', 'index.js'));
const CALLER = basic('demo-client', 'demo-secret');
const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/;

/** A collector's OTLP/HTTP receiver: records what is posted to `/v1/traces`. */
interface OtlpReceiver {
  url: string;
  exports: { path: string; contentType: string | undefined; body: string }[];
  close(): Promise<void>;
}

async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: OtlpReceiver['exports'] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      exports.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Span names and trace ids in what the receiver got (OTLP/JSON). */
function exportedSpans(receiver: OtlpReceiver): { name: string; traceId: string; service?: string }[] {
  const spans: { name: string; traceId: string; service?: string }[] = [];
  for (const posted of receiver.exports) {
    const document = JSON.parse(posted.body) as {
      resourceSpans?: {
        resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
        scopeSpans?: { spans?: { name: string; traceId: string }[] }[];
      }[];
    };
    for (const resource of document.resourceSpans ?? []) {
      const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
      for (const scope of resource.scopeSpans ?? [])
        for (const span of scope.spans ?? []) spans.push({ name: span.name, traceId: span.traceId, service });
    }
  }
  return spans;
}

describe('tracing bootstrap: OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  let issuer: TokenServer;
  let echo: EchoServer;
  beforeAll(async () => {
    [issuer, echo] = await Promise.all([startTokenServer(), startEchoServer()]);
  });
  afterAll(async () => {
    await Promise.all([issuer?.close(), echo?.close()]);
  });

  it('stays off without an endpoint, or with OTEL_SDK_DISABLED=true', async () => {
    await expect(startOtlpTracing({})).resolves.toBeUndefined();
    await expect(
      startOtlpTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' }),
    ).resolves.toBeUndefined();
  });

  it('stops boot with one line naming the variable when the endpoint is not an http(s) URL', async () => {
    const refused = startOtlpTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' });
    await expect(refused).rejects.toBeInstanceOf(GatewayConfigError);
    await expect(refused).rejects.toThrow(
      'Invalid configuration: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: use the http(s) URL of an OTLP/HTTP collector, e.g. http://collector:4318',
    );
  });

  it("exports the gateway's spans to the collector's /v1/traces, under the trace id the downstream received", async () => {
    const receiver = await startOtlpReceiver();
    const tracing = await startOtlpTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    try {
      expect(tracing?.endpoint).toBe(`${receiver.url}/v1/traces`);
      const gateway = await startGateway({
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${echo.url}`,
      });
      try {
        expect((await gateway.get('/v3/exported', CALLER)).status).toBe(200);
      } finally {
        await gateway.close();
      }
      const traceId = TRACEPARENT.exec(String(echo.seen.at(-1)?.headers.traceparent))?.[1];
      expect(traceId).toBeDefined();
      await tracing!.shutdown();
      expect(receiver.exports.every((posted) => posted.path === '/v1/traces')).toBe(true);
      const spans = exportedSpans(receiver).filter((span) => span.traceId === traceId);
      expect(spans.map((span) => span.name)).toEqual(
        expect.arrayContaining(['GET /v3', 'GET', 'v3_token.grant']),
      );
      expect(spans.every((span) => span.service === 'v3-gateway')).toBe(true);
    } finally {
      await tracing?.shutdown();
      await receiver.close();
    }
  });

  (built ? it : it.skip)(
    "runs the README's command: the built gateway exports its spans and flushes them on SIGTERM",
    async () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const block = /```bash\n([^\n]+)\n```/.exec(readme.slice(readme.indexOf('<!-- readme-tracing')));
      expect(block).not.toBeNull();
      const receiver = await startOtlpReceiver();
      const port = await freePort();
      const command = block![1].replace('http://collector:4318', receiver.url);
      expect(command).toContain(receiver.url);
      const child = spawn('sh', ['-c', `exec env ${command}`], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          PORT: String(port),
          HOST: '127.0.0.1',
          V3_TOKEN_URL: issuer.tokenUrl,
          GATEWAY_ROUTES: `/v3=${echo.url}`,
          LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        let up = false;
        const deadline = Date.now() + 30_000;
        while (!up && Date.now() < deadline) {
          up = await fetch(`http://127.0.0.1:${port}/health`).then(
            (answer) => answer.ok,
            () => false,
          );
          if (!up) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect({ up, stderr }).toEqual({ up: true, stderr: '' });
        const answer = await fetch(`http://127.0.0.1:${port}/v3/from-main`, {
          headers: { authorization: CALLER },
        });
        expect(answer.status).toBe(200);
        const traceId = TRACEPARENT.exec(String(echo.seen.at(-1)?.headers.traceparent))?.[1];
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(await eventually(() => receiver.exports.length > 0, 5_000)).toBe(true);
        const names = exportedSpans(receiver)
          .filter((span) => span.traceId === traceId && span.service === 'v3-gateway')
          .map((span) => span.name);
        expect(names).toEqual(expect.arrayContaining(['GET /v3', 'GET', 'v3_token.grant']));
      } finally {
        child.kill('SIGKILL');
        await receiver.close();
      }
    },
    60_000,
  );
});
