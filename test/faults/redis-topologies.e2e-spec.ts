import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { freePort } from '../support/free-port.js';
import { startRedisCluster, type PrivateRedisCluster } from '../support/redis-cluster.js';
import { exited, startRedisServer, waitForRedis, type PrivateRedis } from '../support/redis-server.js';
import { startTokenServer, type TokenServer } from '../support/token-server.js';
import { basic } from '../support/v3-token-auth-app.js';
import {
  clientCredentialsForm,
  FAULT_HMAC_KEY,
  type GatewayInstance,
  startGateway,
} from './fault-harness.js';

const CLIENT_IDS = Array.from({ length: 12 }, (_, i) => `spread-${i}`);
const CLIENTS: Record<string, string> = Object.fromEntries(
  [...CLIENT_IDS, 'cluster-cold', 'sentinel-cold'].map((id) => [id, `${id}-secret`]),
);
const form = clientCredentialsForm(CLIENTS);

/** A private Redis Sentinel (`redis-server --sentinel`) monitoring `master` as `name`. */
async function startSentinel(
  master: PrivateRedis,
  name: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'v3-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 2000`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
  await waitForRedis(port);
  return {
    port,
    stop: async () => {
      child.kill('SIGKILL');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Issue 4, item 7: the gateway on a real local 3-master Redis Cluster and behind a real Redis Sentinel. */
describe('faults: Redis Cluster and Sentinel', () => {
  let issuer: TokenServer;

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: CLIENTS });
  });

  afterAll(() => issuer.close());

  describe('REDIS_CLUSTER_NODES (3 masters)', () => {
    let cluster: PrivateRedisCluster;
    let masters: Redis[];
    let gateways: GatewayInstance[];

    beforeAll(async () => {
      cluster = await startRedisCluster(3);
      masters = cluster.nodes.map((node) => new Redis(Number(node.split(':')[1]), '127.0.0.1'));
      const env = {
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
        REDIS_CLUSTER_NODES: cluster.nodes.join(','),
        TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
      };
      gateways = [await startGateway(env), await startGateway(env)];
    }, 60_000);

    afterAll(async () => {
      await Promise.all((gateways ?? []).map((gateway) => gateway.close()));
      for (const master of masters ?? []) master.disconnect();
      await cluster?.stop();
    });

    it('grants once across instances, spreads entries over the masters, and keeps each lock in its entry slot', async () => {
      issuer.issuer.setFaults({ mode: 'slow', delayMs: 300 });
      const cold = await Promise.all(
        Array.from({ length: 10 }, (_, i) => gateways[i % 2].token(form('cluster-cold'))),
      );
      issuer.issuer.setFaults({ mode: 'none' });
      expect(cold.map((answer) => answer.status)).toEqual(cold.map(() => 200));
      expect(new Set(cold.map((answer) => answer.body?.access_token)).size).toBe(1);
      expect(issuer.issuer.grantCount('cluster-cold')).toBe(1);

      const spread = await Promise.all(CLIENT_IDS.map((id, i) => gateways[i % 2].token(form(id))));
      expect(spread.map((answer) => answer.status)).toEqual(spread.map(() => 200));
      const proxied = await gateways[1].get('/v3/on-cluster', basic('spread-0', CLIENTS['spread-0']));
      expect(proxied.status).toBe(200);
      expect(issuer.issuer.grantCount('spread-0')).toBe(1);

      const keysByMaster = await Promise.all(masters.map((master) => master.keys('v3t:*')));
      const goodKeys = keysByMaster.flat().filter((key) => key.endsWith(':good'));
      const countKeys = keysByMaster.flat().filter((key) => key.endsWith(':count'));
      const keys = keysByMaster.flat().filter((key) => !key.endsWith(':good') && !key.endsWith(':count'));
      // One caller address, one shared cold-grant count, under a keyed hash of the address (never the address).
      expect(countKeys).toHaveLength(1);
      expect(countKeys[0]).not.toContain('127.0.0.1');
      expect(keys.length).toBe(2 * (CLIENT_IDS.length + 1));
      expect(goodKeys.length).toBe(CLIENT_IDS.length + 1);
      for (const key of goodKeys) {
        expect(await masters[0].cluster('KEYSLOT', key)).toBe(
          await masters[0].cluster('KEYSLOT', key.slice(0, -':good'.length)),
        );
      }
      expect(keysByMaster.filter((list) => list.length > 0).length).toBeGreaterThanOrEqual(2);
      for (const key of keys) {
        expect(key).toMatch(/^v3t:\{[^{}]+\}$/);
        expect(await masters[0].cluster('KEYSLOT', `${key}:lock`)).toBe(
          await masters[0].cluster('KEYSLOT', key),
        );
      }
      const health = await gateways[0].health();
      expect(health.status).toBe(200);
      expect(JSON.stringify(health.body)).toContain('"state":"up"');
    });
  });

  describe('REDIS_SENTINELS', () => {
    let master: PrivateRedis;
    let sentinel: { port: number; stop(): Promise<void> };
    let gateways: GatewayInstance[];

    beforeAll(async () => {
      master = await startRedisServer();
      sentinel = await startSentinel(master, 'faultmaster');
      const env = {
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/v3=${issuer.baseUrl}`,
        REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`,
        REDIS_SENTINEL_NAME: 'faultmaster',
        TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
      };
      gateways = [await startGateway(env), await startGateway(env)];
    }, 30_000);

    afterAll(async () => {
      await Promise.all((gateways ?? []).map((gateway) => gateway.close()));
      await sentinel?.stop();
      await master?.stop();
    });

    it('finds the master through the sentinel: one grant across instances, entries in the master', async () => {
      issuer.issuer.setFaults({ mode: 'slow', delayMs: 300 });
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => gateways[i % 2].token(form('sentinel-cold'))),
      );
      issuer.issuer.setFaults({ mode: 'none' });

      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
      expect(new Set(answers.map((answer) => answer.body?.access_token)).size).toBe(1);
      expect(issuer.issuer.grantCount('sentinel-cold')).toBe(1);
      const raw = new Redis(master.url);
      try {
        expect((await raw.keys('v3t:{c.*}')).length).toBe(1);
      } finally {
        raw.disconnect();
      }
      const health = await gateways[1].health();
      expect(health.status).toBe(200);
      expect(JSON.stringify(health.body)).toContain('"state":"up"');
    });
  });
});
