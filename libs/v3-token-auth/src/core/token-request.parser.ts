import type { V3GrantRequest } from '../issuer/v3-token.client.js';
import { V3BadRequestException } from '../v3-token.exceptions.js';
import type { V3Credentials, V3TokenRequest } from '../v3-token.interfaces.js';
import { normalizeScope } from './token-scope.js';

/** Longest value accepted in a token request field, characters. */
export const MAX_FIELD_LENGTH = 4096;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The module's own client and defaults, used where a token request leaves them out. */
export interface TokenRequestDefaults {
  clientId?: string;
  clientSecret?: string;
  scope?: string;
}

/** A parsed `POST /token` body: credentials to resolve through the cache, or a refresh grant for the issuer. */
export type ParsedTokenRequest =
  { kind: 'credentials'; credentials: V3Credentials } | { kind: 'refresh'; grant: V3GrantRequest };

/**
 * Checks a `V3TokenRequest` field by field (strings of printable characters, required ones present) and turns it
 * into credentials; throws `V3BadRequestException` (400) naming the field, or the body when it is not an object (an
 * app that hands `@Body()` over as it is gets no body, or a string, for some requests).
 */
export function parseTokenRequest(
  request: V3TokenRequest,
  defaults: TokenRequestDefaults,
): ParsedTokenRequest {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new V3BadRequestException(
      'The token request must be a form (application/x-www-form-urlencoded) or a JSON object of V3TokenRequest fields',
    );
  }
  const field = (name: keyof V3TokenRequest, required: boolean): string | undefined => {
    const value: unknown = Object.hasOwn(request, name) ? request[name] : undefined;
    if (value === undefined || value === null || value === '') {
      if (!required) return undefined;
      throw new V3BadRequestException(
        name === 'grant_type'
          ? 'grant_type is required'
          : `${name} is required for grant_type ${request.grant_type}`,
      );
    }
    if (typeof value !== 'string' || value.length > MAX_FIELD_LENGTH || CONTROL.test(value)) {
      throw new V3BadRequestException(
        `${name} must be a string of printable characters up to ${MAX_FIELD_LENGTH} long`,
      );
    }
    return value;
  };
  const ownClientId = (): string => {
    if (!defaults.clientId) {
      throw new V3BadRequestException('client_id is required: this gateway has no client of its own');
    }
    return defaults.clientId;
  };
  const grantType = field('grant_type', true);
  const scope = normalizeScope(field('scope', false) ?? defaults.scope);
  const resource = field('resource', false);
  const clientId = field('client_id', false);
  switch (grantType) {
    case 'client_credentials':
      return {
        kind: 'credentials',
        credentials: {
          grantType,
          clientId: field('client_id', true) as string,
          clientSecret: field('client_secret', true),
          scope,
          resource,
        },
      };
    case 'password':
      return {
        kind: 'credentials',
        credentials: {
          grantType,
          clientId: clientId ?? ownClientId(),
          clientSecret: clientId ? field('client_secret', false) : defaults.clientSecret,
          username: field('username', true),
          password: field('password', true),
          scope,
          resource,
        },
      };
    case 'refresh_token':
      return {
        kind: 'refresh',
        grant: {
          grantType,
          clientId: clientId ?? ownClientId(),
          clientSecret: clientId ? field('client_secret', false) : defaults.clientSecret,
          refreshToken: field('refresh_token', true),
          scope,
          resource,
        },
      };
    default:
      throw new V3BadRequestException(
        'grant_type must be client_credentials, password or refresh_token',
        'unsupported_grant_type',
      );
  }
}
