import {
  missingScopes,
  V3InsufficientScopeException,
  V3TokenException,
  type V3AuthenticateOptions,
  type V3Principal,
} from 'nestjs-v3-token-auth';
import type { GatewayRoute } from '../config/gateway-route.js';

/**
 * What one route asks of its callers: the identity a Basic caller's grant asks for (exactly the route's scopes and
 * audience, a cache entry of its own) and the scopes every token must carry, granted or presented as Bearer.
 */
export class RoutePolicy {
  /** The route's scopes and audience as the token service takes them; undefined for the module's defaults. */
  readonly identity: Readonly<Pick<V3AuthenticateOptions, 'scope' | 'resource'>> | undefined;
  /** `true`: nobody is authenticated and no `Authorization` is relayed. */
  readonly public: boolean;
  private readonly required: readonly string[];

  constructor(route: Pick<GatewayRoute, 'scopes' | 'audience' | 'public'>) {
    this.public = route.public;
    this.required = route.scopes;
    const identity: Pick<V3AuthenticateOptions, 'scope' | 'resource'> = {};
    if (route.scopes.length > 0) identity.scope = route.scopes;
    if (route.audience !== undefined) identity.resource = route.audience;
    this.identity = Object.keys(identity).length > 0 ? Object.freeze(identity) : undefined;
  }

  /** The 403 `insufficient_scope` for a principal whose token lacks a required scope; undefined when it may pass. */
  refusal(principal: V3Principal): V3InsufficientScopeException | undefined {
    if (this.required.length === 0) return undefined;
    const granted = (principal as { scopes?: readonly string[] }).scopes ?? principal.scope;
    const missing = missingScopes(granted, this.required);
    return missing.length === 0 ? undefined : new V3InsufficientScopeException(this.required, missing);
  }

  /**
   * An authentication failure as this route answers it: the issuer refusing to grant the route's scopes
   * (`invalid_scope`) means the client lacks them, so 403 `insufficient_scope`; anything else as it is.
   */
  failure(error: unknown): unknown {
    if (
      this.required.length > 0 &&
      error instanceof V3TokenException &&
      error.oauthError === 'invalid_scope'
    ) {
      return new V3InsufficientScopeException(this.required, this.required);
    }
    return error;
  }
}
