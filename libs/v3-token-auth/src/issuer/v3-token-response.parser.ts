import { V3ProtocolException } from '../v3-token.exceptions.js';
import type { V3TokenResponse } from '../v3-token.interfaces.js';

/** Longest `access_token` / `refresh_token` accepted, in characters. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** Longest `scope` accepted, in characters. */
export const MAX_SCOPE_LENGTH = 4 * 1024;
/** Longest lifetime accepted for `expires_in` / `refresh_expires_in`: ten years, in seconds. */
export const MAX_LIFETIME_SECONDS = 10 * 365 * 24 * 60 * 60;

/**
 * Visible ASCII, no spaces: a token that is safe to place in an `Authorization` header. The Bearer parser accepts
 * the same, so every token the gateway hands out can be sent back to it.
 */
export const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;
const INTEGER_STRING = /^\d{1,10}$/;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function token(body: JsonObject, field: 'access_token' | 'refresh_token'): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new V3ProtocolException(`${field} must be a non-empty string`);
  }
  if (value.length > MAX_TOKEN_LENGTH) {
    throw new V3ProtocolException(`${field} is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  if (!TOKEN_CHARACTERS.test(value)) {
    throw new V3ProtocolException(`${field} contains whitespace or non-ASCII characters`);
  }
  return value;
}

/** Accepts a JSON integer, or an integer string as some Keycloak versions send. */
function lifetime(body: JsonObject, field: 'expires_in' | 'refresh_expires_in'): number {
  const value = body[field];
  const seconds = typeof value === 'string' && INTEGER_STRING.test(value) ? Number(value) : value;
  if (
    typeof seconds !== 'number' ||
    !Number.isInteger(seconds) ||
    seconds < 0 ||
    seconds > MAX_LIFETIME_SECONDS
  ) {
    throw new V3ProtocolException(
      `${field} must be an integer number of seconds from 0 to ${MAX_LIFETIME_SECONDS}`,
    );
  }
  return seconds;
}

/** Optional fields: absent and `null` both mean "not sent". */
function isPresent(body: JsonObject, field: string): boolean {
  return body[field] !== undefined && body[field] !== null;
}

/**
 * Validates a token endpoint's JSON answer and returns the `V3TokenResponse` it carries.
 * Unknown fields (Keycloak's `session_state`, `not-before-policy`, `id_token`, ...) are dropped.
 *
 * @throws V3ProtocolException naming the offending field; token values are never part of the message.
 * @example parseV3TokenResponse(JSON.parse(text)) // { access_token: 'eyJ...', token_type: 'Bearer', expires_in: 300 }
 */
export function parseV3TokenResponse(body: unknown): V3TokenResponse {
  if (!isObject(body)) {
    throw new V3ProtocolException('the body is not a JSON object');
  }

  const response: V3TokenResponse = {
    access_token: token(body, 'access_token'),
    token_type: 'Bearer',
    expires_in: 0,
  };

  const tokenType = body.token_type;
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
    throw new V3ProtocolException('token_type must be "Bearer"');
  }
  response.expires_in = lifetime(body, 'expires_in');

  if (isPresent(body, 'refresh_token')) {
    response.refresh_token = token(body, 'refresh_token');
  }
  if (isPresent(body, 'refresh_expires_in')) {
    response.refresh_expires_in = lifetime(body, 'refresh_expires_in');
  }
  if (isPresent(body, 'scope')) {
    const scope = body.scope;
    if (typeof scope !== 'string' || scope.length > MAX_SCOPE_LENGTH) {
      throw new V3ProtocolException(`scope must be a string of at most ${MAX_SCOPE_LENGTH} characters`);
    }
    // An empty scope grants nothing: only an absent one means "as requested" (RFC 6749 §5.1).
    response.scope = scope;
  }
  return response;
}
