import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayConfigError, parseGatewayConfig, RESERVED_PATHS } from './gateway.config.js';
import { parseRoutesFile, RoutesFileError } from './routes-file.js';

const ORDERS = {
  prefix: '/orders',
  target: 'http://orders:8080',
  scopes: ['orders:read'],
  audience: 'https://orders.example',
  public: false,
  timeoutMs: 30000,
};

function refusal(text: string, fileName = 'routes.json'): string {
  try {
    parseRoutesFile(text, fileName, RESERVED_PATHS);
  } catch (error) {
    expect(error).toBeInstanceOf(RoutesFileError);
    return (error as Error).message;
  }
  throw new Error(`expected ${text} to be refused`);
}

const withRoutes = (...routes: object[]) => JSON.stringify({ routes });

describe('parseRoutesFile', () => {
  it('reads every field of the contract from JSON', () => {
    expect(parseRoutesFile(withRoutes(ORDERS), 'routes.json', RESERVED_PATHS)).toEqual([ORDERS]);
  });

  it('reads YAML, defaults public to false, leaves audience and timeoutMs unset, normalises prefix and target', () => {
    const yaml = [
      'routes:',
      '  - prefix: /orders/',
      '    target: http://orders:8080/api/',
      '    scopes: [orders:read, orders:write, orders:read]',
      '  - prefix: /docs',
      '    target: http://docs:8080',
      '    public: true',
    ].join('\n');
    expect(parseRoutesFile(yaml, 'routes.yaml', RESERVED_PATHS)).toEqual([
      {
        prefix: '/orders',
        target: 'http://orders:8080/api',
        scopes: ['orders:read', 'orders:write'],
        public: false,
      },
      { prefix: '/docs', target: 'http://docs:8080', scopes: [], public: true },
    ]);
  });

  it.each([
    [
      withRoutes({ ...ORDERS, scopes: undefined }),
      'routes[0] (/orders) scopes: is required — use a list of scope names',
    ],
    [
      withRoutes({ ...ORDERS, scopes: 'orders:read' }),
      'routes[0] (/orders) scopes: use a list of scope names',
    ],
    [
      withRoutes(ORDERS, { ...ORDERS, prefix: '/pay', scopes: ['pay read'] }),
      'routes[1] (/pay) scopes[0]: use a list of scope names',
    ],
    [withRoutes({ ...ORDERS, prefix: 'orders' }), 'routes[0] (orders) prefix: use a path of letters'],
    [withRoutes({ ...ORDERS, prefix: 7 }), 'routes[0] prefix: use a path of letters'],
    [
      withRoutes({ ...ORDERS, target: 'ftp://orders' }),
      'routes[0] (/orders) target: use the http(s) base URL',
    ],
    [
      withRoutes({ ...ORDERS, target: 'http://user:pw@orders:8080' }),
      'routes[0] (/orders) target: use the http(s) base URL of the downstream, without query or user info',
    ],
    [withRoutes({ ...ORDERS, target: undefined }), 'routes[0] (/orders) target: use the http(s) base URL'],
    [withRoutes({ ...ORDERS, audience: 'orders' }), 'routes[0] (/orders) audience: use an absolute URI'],
    [
      withRoutes({ ...ORDERS, audience: 'https://o.example#x' }),
      'routes[0] (/orders) audience: use an absolute URI',
    ],
    [withRoutes({ ...ORDERS, public: 'yes' }), 'routes[0] (/orders) public: use true'],
    [
      withRoutes({ ...ORDERS, timeoutMs: 0 }),
      'routes[0] (/orders) timeoutMs: use whole milliseconds from 1 to 600000',
    ],
    [withRoutes({ ...ORDERS, timeoutMs: 1.5 }), 'routes[0] (/orders) timeoutMs: use whole milliseconds'],
    [withRoutes({ ...ORDERS, timeoutMs: '30000' }), 'routes[0] (/orders) timeoutMs: use whole milliseconds'],
    [withRoutes({ ...ORDERS, public: true }), 'routes[0] (/orders) scopes: must be empty on a public route'],
    [
      withRoutes({ ...ORDERS, scopes: [], public: true }),
      'routes[0] (/orders) audience: has no use on a public route',
    ],
    [
      withRoutes({ ...ORDERS, scope: 'orders:read' }),
      'routes[0] (/orders): unknown field "scope" — the fields are prefix, target, scopes, audience, public, timeoutMs',
    ],
    [withRoutes(ORDERS, ORDERS), 'routes[1] (/orders) prefix: is already the prefix of routes[0]'],
    [
      withRoutes({ ...ORDERS, prefix: '/token' }),
      'routes[0] (/token) prefix: /token is served by the gateway itself',
    ],
    [
      withRoutes({ ...ORDERS, prefix: '/health/live' }),
      'routes[0] (/health/live) prefix: /health/live lies under /health, which the gateway serves itself',
    ],
    [withRoutes(), 'routes is empty'],
    [JSON.stringify({ route: [] }), 'routes is required — a list of routes'],
    [JSON.stringify({ routes: [ORDERS], route: [] }), 'unknown field "route" — the fields are routes'],
    ['[]', 'must hold an object: { "routes": ['],
    ['{"routes": [', 'is not valid JSON'],
  ])('refuses %s: %s', (text, message) => {
    expect(refusal(text)).toContain(message);
  });

  it('names the route and field of a YAML file, and YAML syntax errors by line', () => {
    expect(refusal('routes:\n  - prefix: /a\n    target: http://a:1\n', 'routes.yml')).toBe(
      'routes[0] (/a) scopes: is required — use a list of scope names, e.g. ["orders:read"] (printable ASCII without spaces, " or \\), or [] for any authenticated caller',
    );
    expect(refusal('routes: [\n  prefix: /a', 'routes.yaml')).toMatch(/^is not valid YAML: .*line/);
  });
});

describe('GATEWAY_ROUTES_FILE', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'routes-file-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const failure = (env: Record<string, string>): string => {
    try {
      parseGatewayConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(GatewayConfigError);
      return (error as Error).message;
    }
    throw new Error('expected the configuration to be refused');
  };

  it('gives the routes of the file', () => {
    const path = file('ok.json', withRoutes(ORDERS));
    expect(parseGatewayConfig({ GATEWAY_ROUTES_FILE: path }).routes).toEqual([ORDERS]);
    expect(parseGatewayConfig({ GATEWAY_ROUTES_FILE: path, GATEWAY_ROUTES: ' ' }).routes).toEqual([ORDERS]);
  });

  it('stops boot with one line naming both when GATEWAY_ROUTES is set too', () => {
    const path = file('both.json', withRoutes(ORDERS));
    expect(failure({ GATEWAY_ROUTES_FILE: path, GATEWAY_ROUTES: '/v3=http://p:1' })).toBe(
      'Invalid configuration: GATEWAY_ROUTES and GATEWAY_ROUTES_FILE are both set — set one: GATEWAY_ROUTES for prefix=URL pairs, GATEWAY_ROUTES_FILE for routes with scopes, audience, public or timeoutMs',
    );
  });

  it('names the variable, the file, the route and the field', () => {
    const path = file(
      'bad.yaml',
      'routes:\n  - prefix: /orders\n    target: http://orders:8080\n    scopes: [a]\n    timeoutMs: -1\n',
    );
    expect(failure({ GATEWAY_ROUTES_FILE: path })).toBe(
      `Invalid configuration: GATEWAY_ROUTES_FILE: ${path}: routes[0] (/orders) timeoutMs: use whole milliseconds from 1 to 600000`,
    );
  });

  it('says so when the file cannot be read', () => {
    const path = join(dir, 'missing.yaml');
    expect(failure({ GATEWAY_ROUTES_FILE: path })).toBe(
      `Invalid configuration: GATEWAY_ROUTES_FILE: ${path}: cannot be read (ENOENT) — point it at a JSON or YAML routes file`,
    );
  });
});
