import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { freePort, portAllocator, TEST_PORTS, workerPorts } from './free-port.js';

/** Listens on 127.0.0.1:`port` until closed. */
async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe('freePort', () => {
  it("hands out ports below the kernel's ephemeral range, which no outgoing connection takes as its own", async () => {
    const [firstEphemeral] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(ports.filter((port) => port >= firstEphemeral)).toEqual([]);
    expect(Math.max(...ports)).toBeLessThanOrEqual(TEST_PORTS.last);
  });

  it('never hands out the same port twice, even to calls made at once', async () => {
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    expect(new Set(ports).size).toBe(200);
  });

  it('gives each Jest worker a block of its own', () => {
    const blocks = [1, 2, 3, 4].map(workerPorts);
    for (const [i, block] of blocks.entries()) {
      expect(block.first).toBeGreaterThanOrEqual(TEST_PORTS.first);
      expect(block.last).toBeLessThanOrEqual(TEST_PORTS.last);
      for (const other of blocks.slice(i + 1)) {
        expect(block.last < other.first || other.last < block.first).toBe(true);
      }
    }
  });

  it('skips a port something listens on', async () => {
    const range = workerPorts(Number(process.env.JEST_WORKER_ID));
    const taken = await occupy(await freePort());
    const port = (taken.address() as { port: number }).port;
    try {
      const next = portAllocator({ first: range.first, last: range.last }, port);
      await expect(next()).resolves.not.toBe(port);
    } finally {
      await close(taken);
    }
  });

  it('rejects, naming the range, when every port of it is taken', async () => {
    const port = await freePort();
    const taken = await occupy(port);
    try {
      await expect(portAllocator({ first: port, last: port })()).rejects.toThrow(
        `no free port on 127.0.0.1 in ${port}–${port}`,
      );
    } finally {
      await close(taken);
    }
  });
});
