import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createGatewayApp, listenGateway } from './app.factory.js';
import { reportBootFailure } from './boot-failure.js';
import { describeGateway } from './boot/boot-summary.js';
import { assertPortsFree } from './boot/port-check.js';
import { parseGatewayConfig } from './config/gateway.config.js';
import { IssuerReachability } from './health/issuer-reachability.js';
import { gracefulShutdown } from './lifecycle/graceful-shutdown.js';
import { startOtlpTracing } from './tracing/otlp-tracing.js';

/** How long the last spans may take to reach the collector on shutdown, ms. */
const TRACE_FLUSH_TIMEOUT_MS = 2_000;

async function bootstrap(): Promise<void> {
  const config = parseGatewayConfig(process.env);
  await assertPortsFree(config.host, [
    { port: config.port, variable: 'PORT' },
    { port: config.edge.adminPort, variable: 'GATEWAY_ADMIN_PORT' },
  ]);
  const tracing = await startOtlpTracing(process.env);
  const app = await createGatewayApp(config);
  const listeners = await listenGateway(app, config);
  new Logger('Gateway').log(describeGateway(config));
  app.get(IssuerReachability).probeInBackground();
  const shutdown = gracefulShutdown(app, {
    timeoutMs: config.edge.shutdownTimeoutMs,
    servers: () => (listeners.admin ? [listeners.main, listeners.admin] : [listeners.main]),
    exit: (code) => {
      if (tracing === undefined) process.exit(code);
      const flushed = new Promise<void>((resolve) => setTimeout(resolve, TRACE_FLUSH_TIMEOUT_MS).unref());
      void Promise.race([tracing.shutdown(), flushed])
        .catch(() => undefined)
        .finally(() => process.exit(code));
    },
    log: (message) => process.stderr.write(`${message}\n`),
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (name) => void shutdown(name));
}

bootstrap().catch((error: unknown) => {
  process.exit(reportBootFailure(error, (line) => process.stderr.write(line)));
});
