import { createServer } from 'node:net';

/** A port the gateway is to listen on is taken: names the port, the address and the variable that moves it. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly host: string,
    readonly variable: string,
  ) {
    super(`port ${port} is in use on ${host} — set ${variable} to a free port, or stop what holds it`);
    this.name = 'PortInUseError';
  }
}

function probe(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Binds each `{ port, variable }` on `host` for a moment and lets go, so that a taken port stops boot with one clear
 * line (`PortInUseError`) before Nest starts, instead of a "successfully started" followed by `EADDRINUSE`. Port 0
 * (any free port) is not checked. Other bind errors (EACCES…) are left to the real listen.
 * @example await assertPortsFree('0.0.0.0', [{ port: 3000, variable: 'PORT' }]);
 */
export async function assertPortsFree(
  host: string,
  ports: readonly { port: number | undefined; variable: string }[],
): Promise<void> {
  for (const { port, variable } of ports) {
    if (port === undefined || port === 0) continue;
    const error = await probe(port, host);
    if (error?.code === 'EADDRINUSE') throw new PortInUseError(port, host, variable);
  }
}
