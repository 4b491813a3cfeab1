import { V3InvalidTokenException } from '../jwt/v3-invalid-token.exception.js';
import type { V3Principal } from '../v3-token.interfaces.js';

/**
 * `principal` when the Bearer token it was proven by is meant for `resource` (its audience lists it, RFC 8707 §2.2),
 * or when no resource is asked for; throws 401 `invalid_token` otherwise, so a token minted for one API cannot be
 * replayed against another.
 */
export function meantFor<P extends V3Principal>(principal: P, resource: string | undefined): P {
  if (resource === undefined || principal.audience?.includes(resource)) return principal;
  throw new V3InvalidTokenException(`The token is not meant for ${resource} (its audience does not list it)`);
}
