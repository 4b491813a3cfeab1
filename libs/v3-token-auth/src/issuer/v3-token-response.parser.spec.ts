import { describe, it, expect } from '@jest/globals';
import { MAX_LIFETIME_SECONDS, MAX_TOKEN_LENGTH, parseV3TokenResponse } from './v3-token-response.parser.js';
import { V3ProtocolException } from '../v3-token.exceptions.js';

const valid = { access_token: 'eyJhbGciOi.abc.def', token_type: 'Bearer', expires_in: 300 };

function protocolError(body: unknown): V3ProtocolException {
  try {
    parseV3TokenResponse(body);
  } catch (error) {
    expect(error).toBeInstanceOf(V3ProtocolException);
    return error as V3ProtocolException;
  }
  throw new Error('expected a V3ProtocolException');
}

describe('parseV3TokenResponse', () => {
  it('returns the minimal response', () => {
    expect(parseV3TokenResponse(valid)).toEqual(valid);
  });

  it('keeps the optional fields and drops Keycloak extras', () => {
    const keycloak = {
      ...valid,
      refresh_token: 'refresh.jwt.value',
      refresh_expires_in: 1800,
      scope: 'profile email',
      session_state: 'a0c7f1',
      'not-before-policy': 0,
      id_token: 'id.jwt.value',
    };
    expect(parseV3TokenResponse(keycloak)).toEqual({
      access_token: valid.access_token,
      token_type: 'Bearer',
      expires_in: 300,
      refresh_token: 'refresh.jwt.value',
      refresh_expires_in: 1800,
      scope: 'profile email',
    });
  });

  it.each(['bearer', 'BEARER', 'Bearer'])('relays token_type %s as Bearer', (tokenType) => {
    expect(parseV3TokenResponse({ ...valid, token_type: tokenType }).token_type).toBe('Bearer');
  });

  it('accepts integer strings for lifetimes and keeps refresh_expires_in 0 (offline tokens)', () => {
    const parsed = parseV3TokenResponse({
      ...valid,
      expires_in: '3600',
      refresh_token: 'r',
      refresh_expires_in: 0,
    });
    expect(parsed.expires_in).toBe(3600);
    expect(parsed.refresh_expires_in).toBe(0);
  });

  it('treats null optional fields as absent', () => {
    const parsed = parseV3TokenResponse({
      ...valid,
      refresh_token: null,
      refresh_expires_in: null,
      scope: null,
    });
    expect(parsed).toEqual(valid);
  });

  it('keeps an empty scope, which grants nothing, apart from an absent one, which grants what was asked', () => {
    expect(parseV3TokenResponse({ ...valid, scope: '' }).scope).toBe('');
    expect(parseV3TokenResponse({ ...valid, scope: undefined }).scope).toBeUndefined();
  });

  it('accepts the largest lifetime and a token of the largest size', () => {
    const big = 'a'.repeat(MAX_TOKEN_LENGTH);
    expect(
      parseV3TokenResponse({ ...valid, access_token: big, expires_in: MAX_LIFETIME_SECONDS }),
    ).toMatchObject({
      access_token: big,
      expires_in: MAX_LIFETIME_SECONDS,
    });
  });

  it.each([
    ['a string', 'access_token=x'],
    ['null', null],
    ['an array', [valid]],
  ])('rejects a body that is %s', (_label, body) => {
    expect(protocolError(body).message).toContain('not a JSON object');
  });

  it.each([
    ['missing', { token_type: 'Bearer', expires_in: 1 }],
    ['empty', { ...valid, access_token: '' }],
    ['a number', { ...valid, access_token: 42 }],
    ['too long', { ...valid, access_token: 'a'.repeat(MAX_TOKEN_LENGTH + 1) }],
    ['holding a line break', { ...valid, access_token: 'abc\r\nX-Injected: 1' }],
    ['holding a space', { ...valid, access_token: 'abc def' }],
  ])('rejects an access_token that is %s', (_label, body) => {
    expect(protocolError(body).message).toContain('access_token');
  });

  it.each([
    ['missing', { access_token: 'a', expires_in: 1 }],
    ['mac', { ...valid, token_type: 'mac' }],
    ['DPoP', { ...valid, token_type: 'DPoP' }],
    ['a number', { ...valid, token_type: 1 }],
  ])('rejects a token_type that is %s', (_label, body) => {
    expect(protocolError(body).message).toContain('token_type');
  });

  it.each([
    ['missing', { access_token: 'a', token_type: 'Bearer' }],
    ['negative', { ...valid, expires_in: -1 }],
    ['fractional', { ...valid, expires_in: 1.5 }],
    ['more than ten years', { ...valid, expires_in: MAX_LIFETIME_SECONDS + 1 }],
    ['a non-integer string', { ...valid, expires_in: '3600s' }],
    ['a negative string', { ...valid, expires_in: '-5' }],
    ['NaN', { ...valid, expires_in: Number.NaN }],
    ['a boolean', { ...valid, expires_in: true }],
  ])('rejects an expires_in that is %s', (_label, body) => {
    expect(protocolError(body).message).toContain('expires_in');
  });

  it('rejects bad optional fields, naming each', () => {
    expect(protocolError({ ...valid, refresh_token: '' }).message).toContain('refresh_token');
    expect(protocolError({ ...valid, refresh_token: 7 }).message).toContain('refresh_token');
    expect(protocolError({ ...valid, refresh_expires_in: -1 }).message).toContain('refresh_expires_in');
    expect(protocolError({ ...valid, scope: ['a'] }).message).toContain('scope');
  });

  it('never echoes token values in its messages', () => {
    const secretish = 'SECRET-TOKEN-VALUE with space';
    const error = protocolError({ ...valid, access_token: secretish, refresh_token: secretish });
    expect(JSON.stringify(error.getResponse())).not.toContain('SECRET-TOKEN-VALUE');
    expect(error.message).not.toContain('SECRET-TOKEN-VALUE');
  });
});
