import {
  V3UnauthorizedException,
  type V3Principal,
  type V3TokenAuthGuard,
  type V3TokenService,
} from 'nestjs-v3-token-auth';
import type { ProxyAuthenticator } from './proxied-route.js';
import type { ProxyExchange } from './proxy-exchange.js';
import { ProxyExecutionContext } from './proxy-execution-context.js';
import type { RoutePolicy } from './route-policy.js';

const refused = () => new V3UnauthorizedException('Authentication failed', 'invalid_client');

/** Sets `exchange.user` when the route's policy lets `principal` pass; throws its 403 otherwise. */
function admit(exchange: ProxyExchange, principal: V3Principal, policy: RoutePolicy): true {
  const refusal = policy.refusal(principal);
  if (refusal !== undefined) throw refusal;
  exchange.user = principal;
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
  const byGuard = (
    exchange: ProxyExchange,
    callerAddress: string,
    policy: RoutePolicy,
  ): boolean | Promise<boolean> => {
    exchange.v3CallerAddress = callerAddress;
    const allowed = guard.canActivate(new ProxyExecutionContext(exchange));
    if (allowed === false) throw refused();
    if (allowed === true) return admit(exchange, exchange.user!, policy);
    return allowed.then((ok) => {
      if (!ok) throw refused();
      return admit(exchange, exchange.user!, policy);
    });
  };
  return {
    authenticate(exchange, callerAddress, policy) {
      const identity = policy.identity;
      if (identity === undefined) return byGuard(exchange, callerAddress, policy);
      const authorization = exchange.headers.authorization;
      if (typeof authorization === 'string') {
        const known = tokens.peek(authorization, identity);
        if (known) return admit(exchange, known, policy);
      }
      return tokens.authenticate(authorization, { ...identity, callerAddress }).then(
        (principal) => admit(exchange, principal, policy),
        (error: unknown) => {
          throw policy.failure(error);
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
