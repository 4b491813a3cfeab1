import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { IncomingHttpHeaders } from 'node:http';
import { IS_PUBLIC_KEY, V3_TOKEN_STRATEGY } from '../v3-token.constants.js';
import { V3TokenException, V3UnauthorizedException } from '../v3-token.exceptions.js';
import type { V3Principal } from '../v3-token.interfaces.js';
import { V3TokenService } from '../core/v3-token.service.js';
import { RequiredScopesPolicy } from '../scopes/required-scopes.policy.js';

interface GuardedRequest {
  headers: IncomingHttpHeaders;
  user?: V3Principal;
  /** Caller address an edge derived (the gateway's `GATEWAY_TRUSTED_PROXIES`); wins over `ip`. */
  v3CallerAddress?: string;
  /** The framework's client address (Express/Fastify, per their trust-proxy setting). */
  ip?: string;
}

type RouteHandler = ReturnType<ExecutionContext['getHandler']>;
type RouteClass = ReturnType<ExecutionContext['getClass']>;

interface HeaderWriter {
  header?(name: string, value: string): unknown;
  setHeader?(name: string, value: string): unknown;
}

/**
 * Protects routes with `V3TokenService`, the service behind the `v3-token` Passport strategy; use per route
 * (`@UseGuards(V3TokenAuthGuard)`) or globally (`APP_GUARD`) with `@Public()` to opt out. A header value verified
 * before is accepted synchronously from the in-process cache. Every other request goes to the service directly rather
 * than through Passport's per-request machinery (on the Redis-hit path that machinery cost a sixth of the CPU and
 * doubled the p99). Every outcome, the synchronous hit included, passes through `handleRequest` as with `AuthGuard`,
 * so a subclass that overrides it (to audit, or to admit anonymous callers) sees every request; `getRequest` and
 * `getResponse` are overridable as in `AuthGuard` (the GraphQL pattern). `AuthGuard('v3-token')` still runs the same authentication through Passport, for apps that combine
 * strategies. Routes marked `@RequireScopes()` then refuse a principal lacking one with 403 `insufficient_scope`, also
 * through `handleRequest`. Failures carry `WWW-Authenticate` (401, 403) or `Retry-After` (429, 503). The caller
 * address the wrong-secret throttle counts is `request.v3CallerAddress` when an edge set it, else `request.ip`.
 */
@Injectable()
export class V3TokenAuthGuard extends AuthGuard(V3_TOKEN_STRATEGY) {
  /** `@Public()` of each handler, by handler and class: decorators do not change once the app runs. */
  private readonly publicRoutes = new WeakMap<object, WeakMap<object, boolean>>();
  /** `@RequireScopes()` of each handler, read once per handler and class like `publicRoutes`. */
  private readonly requiredScopes: RequiredScopesPolicy;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: V3TokenService,
  ) {
    super();
    this.requiredScopes = new RequiredScopesPolicy(reflector);
  }

  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.isPublic(context.getHandler(), context.getClass())) return true;
    const request = this.getRequest<GuardedRequest>(context);
    const authorization = request.headers.authorization;
    if (typeof authorization === 'string') {
      const principal = this.tokens.peek(authorization);
      if (principal)
        return this.admit(request, this.handleRequest(null, principal, undefined, context), context);
    }
    const callerAddress = request.v3CallerAddress ?? request.ip;
    const options = callerAddress === undefined ? undefined : { callerAddress };
    return this.tokens.authenticate(authorization, options).then(
      (principal) => this.admit(request, this.handleRequest(null, principal, undefined, context), context),
      (error: unknown) =>
        this.admit(request, this.handleRequest<V3Principal>(error, false, undefined, context), context),
    );
  }

  /**
   * The request whose `Authorization` header is read and whose `user` is set; override it where the request is not
   * the HTTP one, as with `AuthGuard` (GraphQL: `GqlExecutionContext.create(context).getContext().req`).
   */
  override getRequest<TRequest = GuardedRequest>(context: ExecutionContext): TRequest {
    return context.switchToHttp().getRequest<TRequest>();
  }

  /**
   * The response that receives `WWW-Authenticate` and `Retry-After` on a refusal; override it with `getRequest`
   * (GraphQL: `GqlExecutionContext.create(context).getContext().res`).
   */
  getResponse<TResponse = HeaderWriter>(context: ExecutionContext): TResponse {
    return context.switchToHttp().getResponse<TResponse>();
  }

  /**
   * Sets `request.user`, unless the route requires a scope `user` lacks: that 403 goes through `handleRequest`, and a
   * subclass may answer with another principal, but never one that lacks the scopes too.
   */
  private admit(request: GuardedRequest, user: V3Principal, context: ExecutionContext): true {
    const refusal = this.requiredScopes.refusal(context, user);
    if (refusal === undefined) {
      request.user = user;
      return true;
    }
    const substitute = this.handleRequest<V3Principal>(refusal, false, undefined, context);
    const stillRefused = this.requiredScopes.refusal(context, substitute);
    if (stillRefused)
      V3TokenAuthGuard.prototype.handleRequest.call(this, stillRefused, false, undefined, context);
    request.user = substitute;
    return true;
  }

  private isPublic(handler: RouteHandler, type: RouteClass): boolean {
    let byClass = this.publicRoutes.get(handler);
    let known = byClass?.get(type);
    if (known === undefined) {
      known = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, type]) === true;
      if (byClass === undefined) this.publicRoutes.set(handler, (byClass = new WeakMap()));
      byClass.set(type, known);
    }
    return known;
  }

  override handleRequest<TUser = V3Principal>(
    error: unknown,
    user: TUser | false,
    _info: unknown,
    context: ExecutionContext,
  ): TUser {
    if (!error && user) return user;
    const failure =
      error instanceof Error ? error : new V3UnauthorizedException('Authentication failed', 'invalid_client');
    if (failure instanceof V3TokenException) {
      const response = this.getResponse<HeaderWriter | undefined>(context);
      if (response === undefined || response === null) throw failure;
      for (const [name, value] of Object.entries(failure.headers)) {
        if (typeof response.header === 'function') response.header(name, value);
        else response.setHeader?.(name, value);
      }
    }
    throw failure;
  }
}
