import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { GatewayLifecycle } from './gateway-lifecycle.js';

/** How shutdown runs. */
export interface GracefulShutdownOptions {
  /** In-flight requests get at most this long to finish before their connections are closed, ms. */
  timeoutMs: number;
  /** The servers whose remaining connections are closed at the deadline (the data plane, the admin listener). */
  servers: () => readonly Server[];
  /** Ends the process; `process.exit` in production. */
  exit: (code: number) => void;
  /** Where shutdown progress is reported. */
  log?: (message: string) => void;
}

/** After the deadline has closed every connection, how long `app.close()` may still take before the process exits. */
const AFTER_DEADLINE_MS = 1000;

/**
 * Shuts the gateway down on `signal`: readiness turns 503 at once (`GatewayLifecycle`), new connections are refused
 * and idle ones closed (`app.close()`), in-flight requests get `timeoutMs` to finish, then every remaining connection
 * is closed and the process exits 0 (1 when closing failed). Returns the shutdown function itself, for tests and other signals.
 */
export function gracefulShutdown(
  app: NestFastifyApplication,
  options: GracefulShutdownOptions,
): (signal: NodeJS.Signals) => Promise<void> {
  let started: Promise<void> | undefined;
  return (signal) => {
    started ??= (async () => {
      options.log?.(`${signal} received: draining for at most ${options.timeoutMs} ms`);
      app.get(GatewayLifecycle).beginShutdown();
      const deadline = setTimeout(() => {
        for (const server of options.servers()) server.closeAllConnections();
        setTimeout(() => options.exit(0), AFTER_DEADLINE_MS).unref();
      }, options.timeoutMs);
      deadline.unref();
      let code = 0;
      try {
        await app.close();
      } catch (error) {
        options.log?.(`shutdown failed: ${(error as Error).message}`);
        code = 1;
      }
      clearTimeout(deadline);
      options.exit(code);
    })();
    return started;
  };
}
