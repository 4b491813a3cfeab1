import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { V3UnauthorizedException, type V3TokenAuthGuard, type V3TokenService } from 'nestjs-v3-token-auth';
import type { ProxyAuthenticator } from './gateway-proxy.plugin.js';

/** Stands for the proxy handler in the guard's execution context (its metadata lookups, e.g. `@Public()`). */
export class GatewayProxyRoute {
  forward(): void {}
}

const refused = () => new V3UnauthorizedException('Authentication failed', 'invalid_client');

/**
 * The proxy's authenticator: `V3TokenAuthGuard` protects every proxied route (its warm path is synchronous), and
 * `V3TokenService` evicts (everywhere, for good) and re-authenticates after a downstream 401. Both hand the library the caller address
 * the edge derived (`GATEWAY_TRUSTED_PROXIES`), which the wrong-secret throttle counts.
 */
export function guardAuthenticator(guard: V3TokenAuthGuard, tokens: V3TokenService): ProxyAuthenticator {
  const handler = GatewayProxyRoute.prototype.forward;
  return {
    authenticate(request, reply, callerAddress) {
      if (callerAddress !== undefined)
        (request as { v3CallerAddress?: string }).v3CallerAddress = callerAddress();
      const allowed = guard.canActivate(
        new ExecutionContextHost([request, reply], GatewayProxyRoute, handler),
      );
      if (allowed === false) throw refused();
      return allowed;
    },
    invalidate: (accessToken) => tokens.invalidate(accessToken),
    isWarm: (authorization) => tokens.peek(authorization) !== undefined,
    reauthenticate: (authorization, callerAddress) => tokens.authenticate(authorization, { callerAddress }),
  };
}
