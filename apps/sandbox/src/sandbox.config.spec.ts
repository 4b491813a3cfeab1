import { describe, it, expect } from '@jest/globals';
import { loadSandboxConfig, SandboxConfigError } from './sandbox.config.js';

describe('loadSandboxConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    expect(loadSandboxConfig({})).toEqual({
      port: 3001,
      host: '127.0.0.1',
      clients: { 'demo-client': 'demo-secret' },
      users: { jdoe: 'password' },
      tokenLifetimeSeconds: 300,
      refreshLifetimeSeconds: 1800,
      jwtSecret: undefined,
    });
  });

  it('reads every variable, splitting pairs on the first colon', () => {
    const config = loadSandboxConfig({
      SANDBOX_PORT: '4000',
      SANDBOX_HOST: '0.0.0.0',
      SANDBOX_CLIENTS: 'a:one,b:two:with-colon',
      SANDBOX_USERS: 'alice:wonderland',
      SANDBOX_TOKEN_TTL_SECONDS: '60',
      SANDBOX_REFRESH_TTL_SECONDS: '120',
      SANDBOX_JWT_SECRET: 'x'.repeat(32),
    });
    expect(config).toEqual({
      port: 4000,
      host: '0.0.0.0',
      clients: { a: 'one', b: 'two:with-colon' },
      users: { alice: 'wonderland' },
      tokenLifetimeSeconds: 60,
      refreshLifetimeSeconds: 120,
      jwtSecret: 'x'.repeat(32),
    });
  });

  it('treats empty values as unset', () => {
    expect(loadSandboxConfig({ SANDBOX_PORT: '', SANDBOX_CLIENTS: '' }).port).toBe(3001);
  });

  it.each([
    [
      'SANDBOX_PORT',
      'abc',
      /^SANDBOX_PORT must be a whole number from 0 to 65535, e\.g\. SANDBOX_PORT=3001$/,
    ],
    ['SANDBOX_PORT', '70000', /^SANDBOX_PORT must be at most 65535/],
    ['SANDBOX_TOKEN_TTL_SECONDS', '0', /^SANDBOX_TOKEN_TTL_SECONDS must be at least 1/],
    ['SANDBOX_REFRESH_TTL_SECONDS', '-5', /^SANDBOX_REFRESH_TTL_SECONDS must be a whole number/],
    ['SANDBOX_CLIENTS', 'no-secret-here', /^SANDBOX_CLIENTS must be comma-separated name:secret pairs/],
    ['SANDBOX_USERS', 'jdoe:pw,', /^SANDBOX_USERS must be comma-separated/],
    ['SANDBOX_JWT_SECRET', 'short', /^SANDBOX_JWT_SECRET must be at least 32 characters/],
    ['SANDBOX_HOST', 'not a host', /^SANDBOX_HOST must be a host name or IP address/],
  ])('refuses %s=%s with one line naming the variable and the fix', (name, value, message) => {
    let thrown: unknown;
    try {
      loadSandboxConfig({ [name]: value });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SandboxConfigError);
    const text = (thrown as Error).message;
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('never echoes a secret in its error', () => {
    expect(() => loadSandboxConfig({ SANDBOX_CLIENTS: 'good:ok,hunter2' })).toThrow(SandboxConfigError);
    expect(() => loadSandboxConfig({ SANDBOX_CLIENTS: 'good:ok,hunter2' })).not.toThrow(/hunter2/);
    expect(() => loadSandboxConfig({ SANDBOX_JWT_SECRET: 'tiny-secret' })).not.toThrow(/tiny-secret/);
  });
});
