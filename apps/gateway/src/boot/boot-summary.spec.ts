import { describe, expect, it } from '@jest/globals';
import { parseGatewayConfig } from '../config/gateway.config.js';
import { describeGateway, describeStore } from './boot-summary.js';

describe('describeGateway', () => {
  it('names the listen address, token URL, memory store, routes and sealing', () => {
    const config = parseGatewayConfig({
      PORT: '3100',
      HOST: '127.0.0.1',
      V3_TOKEN_URL: 'http://issuer.test/token',
      GATEWAY_ROUTES: '/v3=http://platform:8080,/orders=http://orders:8080',
    });
    expect(describeGateway(config)).toBe(
      'listening on http://127.0.0.1:3100; token URL http://issuer.test/token; store memory (in process); ' +
        'routes /v3 -> http://platform:8080, /orders -> http://orders:8080; sealing off',
    );
  });

  it('shows a Redis URL without its password, and sealing on', () => {
    const config = parseGatewayConfig({
      V3_TOKEN_URL: 'http://issuer.test/token',
      GATEWAY_ROUTES: '/v3=http://platform:8080',
      REDIS_URL: 'redis://default:hunter2-secret@redis.test:6379/0',
      TOKEN_CACHE_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    const line = describeGateway(config);
    expect(line).not.toContain('hunter2-secret');
    expect(line).toContain('store redis://default:***@redis.test:6379/0');
    expect(line).toMatch(/sealing on$/);
  });

  it('names cluster and sentinel topologies', () => {
    expect(describeStore({ redis: { clusterNodes: ['a:7000', 'b:7001'] } })).toBe(
      'redis cluster a:7000,b:7001',
    );
    expect(describeStore({ redis: { sentinel: { name: 'mymaster', sentinels: ['s:26379'] } } })).toBe(
      'redis sentinel mymaster via s:26379',
    );
  });
});
