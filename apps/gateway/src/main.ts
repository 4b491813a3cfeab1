import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createGatewayApp, listenGateway } from './app.factory.js';
import { reportBootFailure } from './boot-failure.js';
import { describeGateway } from './boot/boot-summary.js';
import { assertPortsFree } from './boot/port-check.js';
import { parseGatewayConfig } from './config/gateway.config.js';
import { IssuerReachability } from './health/issuer-reachability.js';
import { gracefulShutdown } from './lifecycle/graceful-shutdown.js';

async function bootstrap(): Promise<void> {
  const config = parseGatewayConfig(process.env);
  await assertPortsFree(config.host, [
    { port: config.port, variable: 'PORT' },
    { port: config.edge.adminPort, variable: 'GATEWAY_ADMIN_PORT' },
  ]);
  const app = await createGatewayApp(config);
  const listeners = await listenGateway(app, config);
  new Logger('Gateway').log(describeGateway(config));
  app.get(IssuerReachability).probeInBackground();
  const shutdown = gracefulShutdown(app, {
    timeoutMs: config.edge.shutdownTimeoutMs,
    servers: () => (listeners.admin ? [listeners.main, listeners.admin] : [listeners.main]),
    exit: (code) => process.exit(code),
    log: (message) => process.stderr.write(`${message}\n`),
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (name) => void shutdown(name));
}

bootstrap().catch((error: unknown) => {
  process.exit(reportBootFailure(error, (line) => process.stderr.write(line)));
});
