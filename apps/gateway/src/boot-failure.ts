import { GatewayConfigError } from './config/gateway.config.js';

/**
 * Reports why the gateway could not start as one line on `write` (stderr), without a stack trace or any secret,
 * and returns the exit code (1). A configuration error already names the variable and the fix.
 */
export function reportBootFailure(error: unknown, write: (line: string) => void): number {
  const message =
    error instanceof GatewayConfigError
      ? error.message
      : `Gateway failed to start: ${error instanceof Error ? error.message : String(error)}`;
  write(`${message.replace(/\s*\n\s*/g, ' ')}\n`);
  return 1;
}
