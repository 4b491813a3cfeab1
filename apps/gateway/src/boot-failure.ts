import { PortInUseError } from './boot/port-check.js';
import { GatewayConfigError } from './config/gateway.config.js';

/**
 * Reports why the gateway could not start on `write` (stderr), without a stack trace or any secret, and returns the
 * exit code (1): a configuration error as one line per problem (each names the variable and the fix), anything
 * else as one line (a port taken after the boot check, `EADDRINUSE`, as the same line as `PortInUseError`).
 */
export function reportBootFailure(error: unknown, write: (line: string) => void): number {
  if (error instanceof GatewayConfigError) {
    for (const problem of error.problems) write(`Invalid configuration: ${oneLine(problem)}\n`);
    return 1;
  }
  const taken = error as Partial<NodeJS.ErrnoException & { address: string; port: number }>;
  const reason =
    taken?.code === 'EADDRINUSE' && taken.port !== undefined
      ? new PortInUseError(taken.port, taken.address ?? 'this host', 'PORT or GATEWAY_ADMIN_PORT').message
      : error instanceof Error
        ? error.message
        : String(error);
  write(`Gateway failed to start: ${oneLine(reason)}\n`);
  return 1;
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}
