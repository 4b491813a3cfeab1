import { describe, expect, it } from '@jest/globals';
import { missingScopes } from './scope-check.js';
import { V3InsufficientScopeException } from './v3-insufficient-scope.exception.js';

describe('missingScopes', () => {
  it('answers the required scopes the token lacks, from a string or a list', () => {
    expect(missingScopes('orders:read orders:write', ['orders:read'])).toEqual([]);
    expect(missingScopes(['orders:read'], ['orders:read', 'orders:write'])).toEqual(['orders:write']);
    expect(missingScopes(undefined, ['a'])).toEqual(['a']);
    expect(missingScopes('orders:readx', ['orders:read'])).toEqual(['orders:read']);
  });
});

describe('V3InsufficientScopeException', () => {
  it('is a 403 with the RFC 6750 body and WWW-Authenticate naming every required scope', () => {
    const refusal = new V3InsufficientScopeException(['orders:read', 'orders:write'], ['orders:write']);
    expect(refusal.getStatus()).toBe(403);
    expect(refusal.headers['WWW-Authenticate']).toBe(
      'Bearer error="insufficient_scope", scope="orders:read orders:write"',
    );
    expect(refusal.getResponse()).toMatchObject({
      error: 'insufficient_scope',
      scope: 'orders:read orders:write',
    });
    expect(refusal.getResponse().error_description).toContain('orders:write');
  });
});
