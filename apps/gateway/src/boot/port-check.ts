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

/** `HOST` names no address of this machine: the gateway cannot listen there. */
export class HostUnusableError extends Error {
  constructor(
    readonly host: string,
    readonly code: string,
  ) {
    super(
      `HOST: "${host}" is not an address of this machine (${code}) — set HOST to an interface address, such as 0.0.0.0 (every interface) or 127.0.0.1`,
    );
    this.name = 'HostUnusableError';
  }
}

/** Bind errors that mean the host, not the port, is wrong: a name that does not resolve, an address not here. */
const HOST_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EADDRNOTAVAIL', 'EAI_FAIL']);

function probe(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Binds each `{ port, variable }` on `host` for a moment and lets go, so that a taken port stops boot with one clear
 * line (`PortInUseError`) before Nest starts, instead of a "successfully started" followed by `EADDRINUSE`; a `host`
 * that is no address of this machine stops it the same way first (`HostUnusableError`). Port 0 (any free port) is not
 * checked. Other bind errors (EACCES…) are left to the real listen.
 * @example await assertPortsFree('0.0.0.0', [{ port: 3000, variable: 'PORT' }]);
 */
export async function assertPortsFree(
  host: string,
  ports: readonly { port: number | undefined; variable: string }[],
): Promise<void> {
  const unusable = await probe(0, host);
  if (unusable?.code !== undefined && HOST_ERRORS.has(unusable.code))
    throw new HostUnusableError(host, unusable.code);
  for (const { port, variable } of ports) {
    if (port === undefined || port === 0) continue;
    const error = await probe(port, host);
    if (error?.code === 'EADDRINUSE') throw new PortInUseError(port, host, variable);
  }
}
