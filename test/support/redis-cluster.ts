import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { exited, privateRedisArgs, waitForRedis } from './redis-server.js';

const run = promisify(execFile);

/** A private Redis Cluster of masters on free loopback ports, for integration tests. */
export interface PrivateRedisCluster {
  /** Seed nodes, `127.0.0.1:<port>`. */
  nodes: string[];
  /** Kills every node and removes their directory. */
  stop(): Promise<void>;
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function clusterState(port: number): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info']);
    return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown';
  } catch {
    return 'unreachable';
  }
}

async function waitForClusterOk(ports: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const states = await Promise.all(ports.map(clusterState));
    if (states.every((state) => state === 'ok')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `Redis Cluster on ports ${ports.join(', ')} did not reach cluster_state:ok within ${timeoutMs} ms`,
  );
}

/**
 * Starts `masters` cluster-enabled `redis-server`s (from PATH) with no persistence, joins them with
 * `redis-cli --cluster create` (no replicas) and waits for `cluster_state:ok` on every node.
 */
export async function startRedisCluster(masters = 3): Promise<PrivateRedisCluster> {
  const ports = await distinctFreePorts(masters * 2);
  const dataPorts = ports.slice(0, masters);
  const busPorts = ports.slice(masters);
  const dir = mkdtempSync(join(tmpdir(), 'v3-redis-cluster-'));
  const children: ChildProcess[] = [];

  const stop = async (): Promise<void> => {
    const running = children.splice(0);
    for (const child of running) child.kill('SIGKILL');
    await Promise.all(running.map(exited));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    dataPorts.forEach((port, index) => {
      children.push(
        spawn(
          'redis-server',
          [
            ...privateRedisArgs(port, dir),
            '--cluster-port',
            String(busPorts[index]),
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '2000',
          ],
          { stdio: 'ignore' },
        ),
      );
    });
    await Promise.all(dataPorts.map((port) => waitForRedis(port)));
    await run('redis-cli', [
      '--cluster',
      'create',
      ...dataPorts.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitForClusterOk(dataPorts, 15_000);
  } catch (error) {
    await stop();
    throw error;
  }

  return { nodes: dataPorts.map((port) => `127.0.0.1:${port}`), stop };
}
