import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import {
  V3UnauthorizedException,
  type V3Principal,
  type V3TokenAuthGuard,
  type V3TokenService,
} from 'nestjs-v3-token-auth';
import type { ProxyAuthenticator } from './gateway-proxy.plugin.js';
import type { RoutePolicy } from './route-policy.js';

/** Stands for the proxy handler in the guard's execution context (its metadata lookups, e.g. `@Public()`). */
export class GatewayProxyRoute {
  forward(): void {}
}

const refused = () => new V3UnauthorizedException('Authentication failed', 'invalid_client');

interface AuthenticatedRequest {
  user?: V3Principal;
  v3CallerAddress?: string;
}

/** Sets `request.user` when the route's policy lets `principal` pass; throws its 403 otherwise. */
function admit(request: AuthenticatedRequest, principal: V3Principal, policy: RoutePolicy | undefined): true {
  const refusal = policy?.refusal(principal);
  if (refusal !== undefined) throw refusal;
  request.user = principal;
  return true;
}

/**
 * The proxy's authenticator: `V3TokenAuthGuard` protects every proxied route without scopes or audience (its warm
 * path is synchronous); a route with either authenticates through `V3TokenService` for exactly the route's identity
 * (the same synchronous peek first), and both refuse a token lacking a route scope with 403. `V3TokenService` evicts
 * (everywhere, for good), opens the credentials' re-grant window and re-authenticates after a downstream 401. Both hand the library the caller address the
 * edge derived (`GATEWAY_TRUSTED_PROXIES`), which the wrong-secret throttle counts.
 */
export function guardAuthenticator(guard: V3TokenAuthGuard, tokens: V3TokenService): ProxyAuthenticator {
  const handler = GatewayProxyRoute.prototype.forward;
  const byGuard = (
    request: Parameters<ProxyAuthenticator['authenticate']>[0],
    reply: Parameters<ProxyAuthenticator['authenticate']>[1],
    callerAddress: (() => string) | undefined,
    policy: RoutePolicy | undefined,
  ): boolean | Promise<boolean> => {
    const authenticated = request as AuthenticatedRequest;
    if (callerAddress !== undefined) authenticated.v3CallerAddress = callerAddress();
    const allowed = guard.canActivate(new ExecutionContextHost([request, reply], GatewayProxyRoute, handler));
    if (allowed === false) throw refused();
    if (allowed === true) return admit(authenticated, authenticated.user!, policy);
    return allowed.then((ok) => {
      if (!ok) throw refused();
      return admit(authenticated, authenticated.user!, policy);
    });
  };
  return {
    authenticate(request, reply, callerAddress, policy) {
      const identity = policy?.identity;
      if (identity === undefined) return byGuard(request, reply, callerAddress, policy);
      const authenticated = request as AuthenticatedRequest;
      const authorization = request.headers.authorization;
      if (typeof authorization === 'string') {
        const known = tokens.peek(authorization, identity);
        if (known) return admit(authenticated, known, policy);
      }
      const address = callerAddress?.();
      return tokens
        .authenticate(
          authorization,
          address === undefined ? identity : { ...identity, callerAddress: address },
        )
        .then(
          (principal) => admit(authenticated, principal, policy),
          (error: unknown) => {
            throw policy!.failure(error);
          },
        );
    },
    refused: (accessToken, authorization, policy) =>
      tokens.refused(accessToken, authorization, policy?.identity),
    reauthenticate: async (authorization, callerAddress, policy) => {
      try {
        const principal = await tokens.authenticate(authorization, { ...policy?.identity, callerAddress });
        const refusal = policy?.refusal(principal);
        if (refusal !== undefined) throw refusal;
        return principal;
      } catch (error) {
        throw policy ? policy.failure(error) : error;
      }
    },
  };
}
