import type { V3GrantType } from '../v3-token.interfaces.js';
import type { TokenEndpointErrorKind } from './token-endpoint.error.js';

/** Error codes that refuse the client's own credentials, whatever the grant. */
const CLIENT_CREDENTIAL_ERRORS: ReadonlySet<string> = new Set(['invalid_client', 'unauthorized_client']);

/** Error codes that refuse the request, not a secret (RFC 6749 §5.2, RFC 8707 §2). */
const REQUEST_ERRORS: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_scope',
  'unsupported_grant_type',
  'invalid_target',
  'invalid_grant',
]);

/** An issuer-chosen error code is relayed only when it looks like one. */
const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** How one refusal (HTTP 400, 401 or 403) of the token endpoint is classified and relayed. */
export interface Refusal {
  kind: Extract<TokenEndpointErrorKind, 'credential' | 'request'>;
  /** The OAuth error code to relay. */
  error: string;
}

/**
 * Classifies the issuer's refusal of a grant:
 * - `invalid_client`, `unauthorized_client`, and `invalid_grant` of a `password` grant (the user's password) or of a
 *   `refresh_token` grant (a refresh token that is wrong, expired or used) refuse a secret: `credential`.
 * - `invalid_scope`, `invalid_request`, `unsupported_grant_type`, `invalid_target`, and `invalid_grant` of a
 *   `client_credentials` grant refuse the request: `request`.
 * - Another code, or none (an HTML page), is a `credential` refusal (`invalid_client`) at 401/403, and a `request`
 *   refusal at 400 (the code relayed when it looks like one, else `invalid_request`).
 * @example refusalOf(400, 'invalid_scope', 'client_credentials') // { kind: 'request', error: 'invalid_scope' }
 */
export function refusalOf(status: number, error: string | undefined, grantType: V3GrantType): Refusal {
  if (error !== undefined && CLIENT_CREDENTIAL_ERRORS.has(error)) return { kind: 'credential', error };
  if (error === 'invalid_grant' && (grantType === 'password' || grantType === 'refresh_token'))
    return { kind: 'credential', error };
  if (error !== undefined && REQUEST_ERRORS.has(error)) return { kind: 'request', error };
  if (status !== 400) return { kind: 'credential', error: 'invalid_client' };
  return {
    kind: 'request',
    error: error !== undefined && ERROR_CODE.test(error) ? error : 'invalid_request',
  };
}
