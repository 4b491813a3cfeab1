import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseRoutesFile } from '../../apps/gateway/src/config/routes-file.js';
import { RESERVED_PATHS } from '../../apps/gateway/src/config/gateway.config.js';
import { startEchoServer, type EchoServer } from '../../apps/gateway/test/support/echo-server.js';
import { FAULT_HMAC_KEY, startGateway, type GatewayInstance } from '../faults/fault-harness.js';
import {
  createSigningKey,
  signJwt,
  startJwksServer,
  type JwksServer,
  type TestSigningKey,
} from '../support/jwks-server.js';
import { startOidcProvider, type OidcProviderServer } from '../support/oidc-provider.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { readmeBlockAfter, ROOT } from './readme-blocks.js';

const COMPOSE_ROUTES = join(ROOT, 'apps', 'gateway', 'deploy', 'routes.yaml');
const COMPOSE_REALM = join(ROOT, 'apps', 'gateway', 'deploy', 'keycloak-v3-realm.json');

interface RealmMapper {
  protocolMapper: string;
  config: Record<string, string>;
}
interface Realm {
  clients: { clientId: string; protocolMappers?: RealmMapper[] }[];
  clientScopes: { name: string; protocolMappers?: RealmMapper[] }[];
}
const realm = JSON.parse(readFileSync(COMPOSE_REALM, 'utf8')) as Realm;

/** The audiences the compose realm's audience mappers put in a token of `clientId` granted `scopes`. */
function realmAudience(clientId: string, scopes: readonly string[]): string[] {
  const mappers = [
    ...(realm.clients.find((client) => client.clientId === clientId)?.protocolMappers ?? []),
    ...realm.clientScopes
      .filter((scope) => scopes.includes(scope.name))
      .flatMap((scope) => scope.protocolMappers ?? []),
  ];
  return mappers
    .filter((mapper) => mapper.protocolMapper === 'oidc-audience-mapper')
    .map((mapper) => mapper.config['included.custom.audience']);
}

/** One documented command and the status its comment promises. */
interface DocumentedCall {
  command: string;
  status: number;
  comment: string;
}

function documentedCalls(block: string): DocumentedCall[] {
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.startsWith('curl '))
    .map((line) => {
      const match = /^(.*?)\s+#\s*(\d{3})(.*)$/.exec(line);
      if (!match) throw new Error(`README curl line without "# <status>": ${line}`);
      return { command: match[1], status: Number(match[2]), comment: match[3].trim() };
    });
}

/**
 * The README's routes file is the compose stack's, and booted as it is written (targets pointed at a local echo
 * downstream); its curl lines run against that gateway, with `oidc-provider` as the issuer (the realm's clients and
 * scopes) and a JWKS server minting the `$JWT`, and answer the status their comments name.
 */
describe("the README's routes file and curl lines, as written", () => {
  let issuer: OidcProviderServer;
  let jwks: JwksServer;
  let key: TestSigningKey;
  let redis: PrivateRedis;
  let echo: EchoServer;
  let gateway: GatewayInstance;
  let dir: string;
  const example = readmeBlockAfter('<!-- readme-example: routes.yaml', 'yaml');

  beforeAll(async () => {
    [issuer, key, redis, echo] = await Promise.all([
      startOidcProvider({
        clients: [
          {
            client_id: 'gateway-client',
            client_secret: 'gateway-client-secret',
            scope: 'orders:read orders:write',
          },
          { client_id: 'orders-reader', client_secret: 'orders-reader-secret', scope: 'orders:read' },
        ],
        resourceServers: { 'https://orders.example': { scope: 'orders:read orders:write' } },
      }),
      createSigningKey('readme-key'),
      startRedisServer(),
      startEchoServer(),
    ]);
    jwks = await startJwksServer([key]);
    dir = mkdtempSync(join(tmpdir(), 'readme-routes-'));
    const routesFile = join(dir, 'routes.yaml');
    writeFileSync(routesFile, example.replaceAll('http://orders:8080', echo.url));
    gateway = await startGateway({
      V3_TOKEN_URL: issuer.tokenUrl,
      GATEWAY_ROUTES_FILE: routesFile,
      REDIS_URL: redis.url,
      TOKEN_CACHE_HMAC_KEY: FAULT_HMAC_KEY,
      V3_JWKS_URL: jwks.url,
      V3_JWT_ISSUER: 'http://localhost:8080/realms/v3',
      V3_JWT_AUDIENCE: 'v3-gateway',
    });
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([issuer?.close(), jwks?.close(), redis?.stop(), echo?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is the routes file of the compose stack, and valid', () => {
    expect(example).toBe(readFileSync(COMPOSE_ROUTES, 'utf8'));
    expect(parseRoutesFile(example, 'routes.yaml', RESERVED_PATHS).map((route) => route.prefix)).toEqual([
      '/orders',
      '/orders-admin',
      '/v3',
      '/status',
    ]);
  });

  it("is served by the compose realm: a token of a route's scopes carries the route's audience", () => {
    for (const route of parseRoutesFile(example, 'routes.yaml', RESERVED_PATHS)) {
      if (route.audience === undefined) continue;
      for (const client of ['gateway-client', 'orders-reader']) {
        expect(realmAudience(client, route.scopes)).toEqual(['v3-gateway', route.audience]);
      }
    }
    expect(realmAudience('orders-reader', [])).toEqual(['v3-gateway']);
  });

  it('answers every curl line with the status its comment names', async () => {
    const calls = documentedCalls(readmeBlockAfter('<!-- readme-curl: routes', 'bash'));
    expect(calls.length).toBeGreaterThanOrEqual(7);
    // The JWT Keycloak mints for the README's `JWT=` line, audiences as the compose realm's mappers set them.
    const JWT = await signJwt(key, {
      iss: 'http://localhost:8080/realms/v3',
      aud: realmAudience('orders-reader', ['orders:read']),
      azp: 'orders-reader',
      scope: 'orders:read',
      exp: Math.floor(Date.now() / 1000) + 300,
    });
    for (const call of calls) {
      const command = call.command.replaceAll('http://localhost:3000', gateway.url);
      const { stdout } = await promisify(execFile)('sh', ['-c', command], {
        env: { PATH: process.env.PATH ?? '', JWT },
      });
      const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(stdout)?.[1]);
      expect({ command: call.command, status }).toEqual({ command: call.command, status: call.status });
      if (call.comment.includes('insufficient_scope')) {
        expect(stdout).toMatch(/www-authenticate: Bearer error="insufficient_scope", scope="orders:write"/i);
        expect(stdout).toContain('"error":"insufficient_scope"');
      }
      if (command.endsWith('/status')) expect(echo.seen.at(-1)?.headers.authorization).toBeUndefined();
    }
  }, 60_000);
});
