import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  FAULT_HMAC_KEY,
  startGateway,
  startModuleApp,
  type GatewayInstance,
  type ModuleInstance,
} from './faults/fault-harness.js';
import { startOidcProvider, type OidcProviderServer } from './support/oidc-provider.js';
import { basic } from './support/v3-token-auth-app.js';

const GATEWAY_CLIENT = { client_id: 'scoped-gw', client_secret: 'scoped-gw-secret', scope: 'read write' };
const MODULE_CLIENT = { client_id: 'scoped-mod', client_secret: 'scoped-mod-secret', scope: 'read write' };

/**
 * Issue 10, item 1: the scope set is part of the cache identity, against `oidc-provider` (an independent OAuth 2.0
 * server that grants exactly the scopes asked for). `read` and `write` of one client are two grants and two tokens,
 * each with its own scope; `write read` and `read write` are one entry.
 */
describe('scope isolation against oidc-provider', () => {
  let provider: OidcProviderServer;
  let gateway: GatewayInstance;
  let module: ModuleInstance;

  beforeAll(async () => {
    provider = await startOidcProvider({
      clients: [GATEWAY_CLIENT, MODULE_CLIENT],
      scopes: ['read', 'write'],
      tokenLifetimeSeconds: 600,
    });
    [gateway, module] = await Promise.all([
      startGateway({ V3_TOKEN_URL: provider.tokenUrl, GATEWAY_ROUTES: `/v3=${provider.issuer}` }),
      startModuleApp({ tokenUrl: provider.tokenUrl, hmacKey: FAULT_HMAC_KEY, retry: { attempts: 1 } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([gateway?.close(), module?.close()]);
    await provider?.close();
  });

  const token = (scope: string) =>
    gateway.token({
      grant_type: 'client_credentials',
      client_id: GATEWAY_CLIENT.client_id,
      client_secret: GATEWAY_CLIENT.client_secret,
      scope,
    });

  it('POST /token: scope=read then scope=write are two grants and two tokens, each with its own scope', async () => {
    const before = provider.grantCount();
    const read = await token('read');
    const write = await token('write');
    expect(read.status).toBe(200);
    expect(write.status).toBe(200);
    expect(read.body?.scope).toBe('read');
    expect(write.body?.scope).toBe('write');
    expect(write.body?.access_token).not.toBe(read.body?.access_token);
    expect(provider.grantCount() - before).toBe(2);

    const readAgain = await token('read');
    const writeAgain = await token('write');
    expect(readAgain.body?.access_token).toBe(read.body?.access_token);
    expect(writeAgain.body?.access_token).toBe(write.body?.access_token);
    expect(provider.grantCount() - before).toBe(2);
  });

  it('POST /token: "write read" and "read  write read" are the one entry of "read write"', async () => {
    const before = provider.grantCount();
    const both = await token('write read');
    expect(both.status).toBe(200);
    expect(both.body?.scope?.toString().split(' ').sort()).toEqual(['read', 'write']);
    const reordered = await token('read  write read');
    expect(reordered.body?.access_token).toBe(both.body?.access_token);
    expect(provider.grantCount() - before).toBe(1);
    const narrow = await token('read');
    expect(narrow.body?.access_token).not.toBe(both.body?.access_token);
    expect(narrow.body?.scope).toBe('read');
    expect(provider.grantCount() - before).toBe(1);
  });

  it("the module's authenticate(h, { scope }) keeps each scope set apart, in any order", async () => {
    const header = basic(MODULE_CLIENT.client_id, MODULE_CLIENT.client_secret);
    const before = provider.grantCount();
    const write = await module.tokens.authenticate(header, { scope: 'write' });
    const read = await module.tokens.authenticate(header, { scope: 'read' });
    expect(write.scope).toBe('write');
    expect(read.scope).toBe('read');
    expect(read.accessToken).not.toBe(write.accessToken);
    expect(provider.grantCount() - before).toBe(2);

    const both = await module.tokens.authenticate(header, { scope: ['write', 'read'] });
    const same = await module.tokens.authenticate(header, { scope: 'read write' });
    expect(same.accessToken).toBe(both.accessToken);
    expect(both.scope?.split(' ').sort()).toEqual(['read', 'write']);
    expect((await module.tokens.authenticate(header, { scope: 'read' })).accessToken).toBe(read.accessToken);
    expect((await module.tokens.authenticate(header, { scope: 'write' })).accessToken).toBe(
      write.accessToken,
    );
    expect(provider.grantCount() - before).toBe(3);
  });
});
