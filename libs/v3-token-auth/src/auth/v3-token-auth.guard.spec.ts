import { describe, it, expect } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Public } from './public.decorator.js';
import { V3TokenAuthGuard } from './v3-token-auth.guard.js';
import { V3UnauthorizedException } from '../v3-token.exceptions.js';
import { IS_PUBLIC_KEY } from '../v3-token.constants.js';
import { REQUIRED_SCOPES_KEY, RequireScopes } from '../scopes/require-scopes.decorator.js';
import { V3InsufficientScopeException } from '../scopes/v3-insufficient-scope.exception.js';
import type { V3Principal } from '../v3-token.interfaces.js';
import type { V3TokenService } from '../core/v3-token.service.js';

const principal: V3Principal = {
  clientId: 'svc',
  accessToken: 'at-1',
  tokenType: 'Bearer',
  expiresAt: Date.now() + 60_000,
};

/** A token service that only knows one verified header value; `authenticate` accepts `Basic fresh` too. */
function tokensKnowing(header: string) {
  const peeked: string[] = [];
  const authenticated: unknown[] = [];
  const service = {
    peek(authorization: string) {
      peeked.push(authorization);
      return authorization === header ? principal : undefined;
    },
    authenticate(authorization: unknown) {
      authenticated.push(authorization);
      return authorization === 'Basic fresh'
        ? Promise.resolve(principal)
        : Promise.reject(new V3UnauthorizedException('Authentication failed', 'invalid_client'));
    },
  };
  return { service: service as unknown as V3TokenService, peeked, authenticated };
}

class Routes {
  guarded(): void {}
  @Public()
  open(): void {}
  @RequireScopes('orders:read')
  ordersOnly(): void {}
}

@Public()
class PublicRoutes extends Routes {}

const context = (type: object, handler: () => void, headers: Record<string, string>) => {
  const request: { headers: Record<string, string>; user?: V3Principal } = { headers };
  const sent: Record<string, string> = {};
  const response = { header: (name: string, value: string) => (sent[name] = value) };
  return { request, sent, host: new ExecutionContextHost([request, response], type as never, handler) };
};

describe('V3TokenAuthGuard', () => {
  it('lets @Public() handlers and classes through without looking at credentials', () => {
    const { service, peeked } = tokensKnowing('Basic known');
    const guard = new V3TokenAuthGuard(new Reflector(), service);
    expect(guard.canActivate(context(Routes, Routes.prototype.open, {}).host)).toBe(true);
    expect(guard.canActivate(context(PublicRoutes, Routes.prototype.guarded, {}).host)).toBe(true);
    expect(peeked).toEqual([]);
  });

  it('accepts a verified header value synchronously and sets request.user', () => {
    const { service } = tokensKnowing('Basic known');
    const guard = new V3TokenAuthGuard(new Reflector(), service);
    const { request, host } = context(Routes, Routes.prototype.guarded, { authorization: 'Basic known' });
    expect(guard.canActivate(host)).toBe(true);
    expect(request.user).toBe(principal);
  });

  it('reads the metadata of a handler and class once, and tells classes sharing a handler apart', () => {
    const reflector = new Reflector();
    const reads: string[] = [];
    const read = reflector.getAllAndOverride.bind(reflector);
    reflector.getAllAndOverride = ((key: string, targets: never[]) => {
      reads.push(key);
      return read(key, targets);
    }) as Reflector['getAllAndOverride'];
    const { service, peeked } = tokensKnowing('Basic known');
    const guard = new V3TokenAuthGuard(reflector, service);
    const headers = { authorization: 'Basic known' };
    for (let i = 0; i < 3; i++) {
      expect(guard.canActivate(context(Routes, Routes.prototype.guarded, headers).host)).toBe(true);
      expect(guard.canActivate(context(PublicRoutes, Routes.prototype.guarded, headers).host)).toBe(true);
    }
    // @Public() once per (handler, class); @RequireScopes() once, only for the class that is not public.
    expect(reads.sort()).toEqual([IS_PUBLIC_KEY, IS_PUBLIC_KEY, REQUIRED_SCOPES_KEY].sort());
    expect(peeked).toHaveLength(3);
  });

  it('asks the token service about any other header and sets request.user from its answer', async () => {
    const { service, authenticated } = tokensKnowing('Basic known');
    const guard = new V3TokenAuthGuard(new Reflector(), service);
    const { request, host } = context(Routes, Routes.prototype.guarded, { authorization: 'Basic fresh' });
    await expect(guard.canActivate(host)).resolves.toBe(true);
    expect(request.user).toBe(principal);
    expect(authenticated).toEqual(['Basic fresh']);
  });

  it('refuses through handleRequest, with the exception headers on the response', async () => {
    const { service } = tokensKnowing('Basic known');
    const guard = new V3TokenAuthGuard(new Reflector(), service);
    const { request, sent, host } = context(Routes, Routes.prototype.guarded, { authorization: 'Basic bad' });
    await expect(guard.canActivate(host)).rejects.toBeInstanceOf(V3UnauthorizedException);
    expect(request.user).toBeUndefined();
    expect(sent['WWW-Authenticate'] ?? sent['www-authenticate']).toMatch(/^Basic realm=/);
  });

  it('lets a subclass decide through handleRequest, as with AuthGuard', async () => {
    const anonymous = { ...principal, clientId: 'anonymous' };
    class OptionalGuard extends V3TokenAuthGuard {
      override handleRequest<TUser = V3Principal>(error: unknown, user: TUser | false): TUser {
        return (error ? anonymous : user) as TUser;
      }
    }
    const { service } = tokensKnowing('Basic known');
    const guard = new OptionalGuard(new Reflector(), service);
    const { request, host } = context(Routes, Routes.prototype.guarded, { authorization: 'Basic bad' });
    await expect(guard.canActivate(host)).resolves.toBe(true);
    expect(request.user).toBe(anonymous);
  });

  it('refuses a verified principal lacking a required scope with 403 and WWW-Authenticate, on the warm path', () => {
    const { service } = tokensKnowing('Basic known');
    const guard = new V3TokenAuthGuard(new Reflector(), service);
    const { request, sent, host } = context(Routes, Routes.prototype.ordersOnly, {
      authorization: 'Basic known',
    });
    expect(() => guard.canActivate(host)).toThrow(V3InsufficientScopeException);
    expect(request.user).toBeUndefined();
    expect(sent['WWW-Authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:read"');
  });

  it('admits a principal holding the required scope, from the service too', async () => {
    const scoped = { ...principal, scope: 'profile orders:read' };
    const service = {
      peek: () => undefined,
      authenticate: () => Promise.resolve(scoped),
    } as unknown as V3TokenService;
    const guard = new V3TokenAuthGuard(new Reflector(), service);
    const { request, host } = context(Routes, Routes.prototype.ordersOnly, { authorization: 'Basic fresh' });
    await expect(guard.canActivate(host)).resolves.toBe(true);
    expect(request.user).toBe(scoped);
  });

  it('never lets a subclass substitute a principal that lacks the scope too', async () => {
    const anonymous = { ...principal, clientId: 'anonymous' };
    class OptionalGuard extends V3TokenAuthGuard {
      override handleRequest<TUser = V3Principal>(error: unknown, user: TUser | false): TUser {
        return (error ? anonymous : user) as TUser;
      }
    }
    const { service } = tokensKnowing('Basic known');
    const guard = new OptionalGuard(new Reflector(), service);
    const { request, sent, host } = context(Routes, Routes.prototype.ordersOnly, {
      authorization: 'Basic bad',
    });
    await expect(guard.canActivate(host)).rejects.toBeInstanceOf(V3InsufficientScopeException);
    expect(request.user).toBeUndefined();
    expect(sent['WWW-Authenticate']).toMatch(/insufficient_scope/);
  });

  it('passes the synchronous hit through handleRequest too: an auditing subclass sees every request', async () => {
    const audit: string[] = [];
    class AuditingGuard extends V3TokenAuthGuard {
      override handleRequest<TUser = V3Principal>(
        error: unknown,
        user: TUser | false,
        info: unknown,
        context: ExecutionContext,
      ): TUser {
        const authorization = this.getRequest<{ headers: Record<string, string> }>(context).headers
          .authorization;
        audit.push(`${authorization} ${error ? 'refused' : 'admitted'}`);
        return super.handleRequest(error, user, info, context);
      }
    }
    const { service } = tokensKnowing('Basic known');
    const guard = new AuditingGuard(new Reflector(), service);
    const warm = context(Routes, Routes.prototype.guarded, { authorization: 'Basic known' });
    expect(guard.canActivate(warm.host)).toBe(true);
    expect(warm.request.user).toBe(principal);
    await expect(
      guard.canActivate(context(Routes, Routes.prototype.guarded, { authorization: 'Basic fresh' }).host),
    ).resolves.toBe(true);
    await expect(
      guard.canActivate(context(Routes, Routes.prototype.guarded, { authorization: 'Basic bad' }).host),
    ).rejects.toBeInstanceOf(V3UnauthorizedException);
    expect(guard.canActivate(warm.host)).toBe(true);
    expect(audit).toEqual([
      'Basic known admitted',
      'Basic fresh admitted',
      'Basic bad refused',
      'Basic known admitted',
    ]);
  });

  it('a warm-path refusal from a subclass handleRequest stops the request', () => {
    class DenyAllGuard extends V3TokenAuthGuard {
      override handleRequest<TUser = V3Principal>(): TUser {
        throw new V3UnauthorizedException('denied by policy', 'invalid_client');
      }
    }
    const { service } = tokensKnowing('Basic known');
    const guard = new DenyAllGuard(new Reflector(), service);
    const { request, host } = context(Routes, Routes.prototype.guarded, { authorization: 'Basic known' });
    expect(() => guard.canActivate(host)).toThrow('denied by policy');
    expect(request.user).toBeUndefined();
  });

  describe('getRequest and getResponse overridden (the GraphQL pattern)', () => {
    interface GqlContext {
      req: { headers: Record<string, string>; user?: V3Principal };
      res: { header(name: string, value: string): void };
    }
    class GqlGuard extends V3TokenAuthGuard {
      override getRequest<TRequest>(context: ExecutionContext): TRequest {
        return context.getArgByIndex<GqlContext>(2).req as TRequest;
      }
      override getResponse<TResponse>(context: ExecutionContext): TResponse {
        return context.getArgByIndex<GqlContext>(2).res as TResponse;
      }
    }
    /** A resolver's context: (root, args, context, info), with no HTTP request at index 0. */
    const gqlContext = (headers: Record<string, string>) => {
      const sent: Record<string, string> = {};
      const gql: GqlContext = {
        req: { headers },
        res: { header: (name, value) => void (sent[name] = value) },
      };
      const host = new ExecutionContextHost([{}, {}, gql, {}], Routes as never, Routes.prototype.guarded);
      host.setType('graphql');
      return { gql, sent, host };
    };

    it('reads the header from the overridden request and sets its user, warm and cold', async () => {
      const { service, authenticated } = tokensKnowing('Basic known');
      const guard = new GqlGuard(new Reflector(), service);
      const warm = gqlContext({ authorization: 'Basic known' });
      expect(guard.canActivate(warm.host)).toBe(true);
      expect(warm.gql.req.user).toBe(principal);
      const cold = gqlContext({ authorization: 'Basic fresh' });
      await expect(guard.canActivate(cold.host)).resolves.toBe(true);
      expect(cold.gql.req.user).toBe(principal);
      expect(authenticated).toEqual(['Basic fresh']);
    });

    it('writes the refusal headers to the overridden response', async () => {
      const { service } = tokensKnowing('Basic known');
      const guard = new GqlGuard(new Reflector(), service);
      const refused = gqlContext({ authorization: 'Basic bad' });
      await expect(guard.canActivate(refused.host)).rejects.toBeInstanceOf(V3UnauthorizedException);
      expect(refused.gql.req.user).toBeUndefined();
      expect(refused.sent['WWW-Authenticate']).toMatch(/^Basic realm=/);
    });
  });
});
