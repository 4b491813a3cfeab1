import { createServer } from 'node:net';

/**
 * The ports tests hand out: below Linux's ephemeral range (32768–60999 by default), where the kernel never picks
 * a port, neither for a `listen(0)` nor as the local port of an outgoing connection. A port taken from the ephemeral
 * range (`listen(0)`, then closed) could meanwhile become some client's local port, or another Jest worker's.
 */
export const TEST_PORTS = { first: 20_000, last: 32_767 } as const;

/** How many ports each Jest worker has to itself. */
const BLOCK_SIZE = 1_000;

/** A range of ports, both ends included. */
export interface PortRange {
  first: number;
  last: number;
}

/**
 * Jest worker `workerId`'s own ports within `TEST_PORTS` (`JEST_WORKER_ID` counts from 1; anything else, such as a
 * bench run outside Jest, takes block 0): two workers never hand out the same port.
 */
export function workerPorts(workerId: number): PortRange {
  const blocks = Math.floor((TEST_PORTS.last - TEST_PORTS.first + 1) / BLOCK_SIZE);
  const block = Number.isInteger(workerId) && workerId > 0 ? workerId % blocks : 0;
  const first = TEST_PORTS.first + block * BLOCK_SIZE;
  return { first, last: first + BLOCK_SIZE - 1 };
}

/** Whether 127.0.0.1:`port` can be listened on right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Hands out the ports of `range` in turn from `start` (wrapping round), each one checked free on 127.0.0.1 when
 * handed out and never handed out twice by this allocator until the range wraps; rejects when none is free.
 */
export function portAllocator(range: PortRange, start = range.first): () => Promise<number> {
  const size = range.last - range.first + 1;
  let offset = start - range.first;
  return async () => {
    for (let tried = 0; tried < size; tried++) {
      const port = range.first + (offset % size);
      offset = (offset + 1) % size;
      if (await canListen(port)) return port;
    }
    throw new Error(`no free port on 127.0.0.1 in ${range.first}–${range.last}`);
  };
}

const ownPorts = workerPorts(Number(process.env.JEST_WORKER_ID));

/** A TCP port on 127.0.0.1 that was free a moment ago, from this Jest worker's own block, not handed out before. */
export const freePort: () => Promise<number> = portAllocator(
  ownPorts,
  // A random start, so that runs one after another do not begin on the ports the last one used.
  ownPorts.first + Math.floor(Math.random() * (ownPorts.last - ownPorts.first + 1)),
);
