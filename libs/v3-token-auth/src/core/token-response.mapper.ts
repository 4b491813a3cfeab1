import type { CachedToken } from '../store/token-store.interface.js';
import type {
  V3Credentials,
  V3Principal,
  V3TokenRequestResponse,
  V3TokenResponse,
} from '../v3-token.interfaces.js';

/**
 * The cache entry of an issuer's answer to a grant for `credentials`; `verifier` binds it to their secret. An answer
 * without `scope` was granted the scope requested (RFC 6749 §5.1).
 */
export function toCachedToken(
  response: V3TokenRequestResponse,
  credentials: Pick<V3Credentials, 'clientId' | 'username' | 'scope' | 'resource'>,
  verifier: string,
): CachedToken {
  const answer = response.v3TokenResponse;
  const token: CachedToken = {
    accessToken: answer.access_token,
    tokenType: 'Bearer',
    issuedAt: response.issuedAt,
    expiresAt: response.issuedAt + answer.expires_in * 1000,
    clientId: credentials.clientId,
    verifier,
  };
  if (credentials.username !== undefined) token.username = credentials.username;
  const scope = answer.scope ?? credentials.scope;
  if (scope !== undefined) token.scope = scope;
  if (credentials.resource !== undefined) token.resource = credentials.resource;
  if (answer.refresh_token !== undefined) {
    token.refreshToken = answer.refresh_token;
    if (answer.refresh_expires_in)
      token.refreshExpiresAt = response.issuedAt + answer.refresh_expires_in * 1000;
  }
  return token;
}

/** The principal a cached token stands for. */
export function toPrincipal(token: CachedToken): V3Principal {
  const principal: V3Principal = {
    clientId: token.clientId,
    accessToken: token.accessToken,
    tokenType: 'Bearer',
    expiresAt: token.expiresAt,
  };
  if (token.username !== undefined) principal.username = token.username;
  if (token.scope !== undefined) principal.scope = token.scope;
  if (token.resource !== undefined) principal.audience = [token.resource];
  return principal;
}

/** The `V3TokenResponse` handed to a caller at `now`: `expires_in` is the token's remaining life. */
export function toV3TokenResponse(token: CachedToken, now: number): V3TokenResponse {
  const response: V3TokenResponse = {
    access_token: token.accessToken,
    token_type: 'Bearer',
    expires_in: Math.max(0, Math.floor((token.expiresAt - now) / 1000)),
  };
  if (token.refreshToken !== undefined) {
    response.refresh_token = token.refreshToken;
    response.refresh_expires_in =
      token.refreshExpiresAt === undefined
        ? 0
        : Math.max(0, Math.floor((token.refreshExpiresAt - now) / 1000));
  }
  if (token.scope !== undefined) response.scope = token.scope;
  return response;
}
