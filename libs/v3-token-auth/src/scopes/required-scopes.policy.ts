import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { V3Principal } from '../v3-token.interfaces.js';
import { REQUIRED_SCOPES_KEY } from './require-scopes.decorator.js';
import { missingScopes, type GrantedScopes } from './scope-check.js';
import { V3InsufficientScopeException } from './v3-insufficient-scope.exception.js';

type RouteHandler = ReturnType<ExecutionContext['getHandler']>;
type RouteClass = ReturnType<ExecutionContext['getClass']>;

const NONE: readonly string[] = [];

/**
 * `@RequireScopes()` for the guard: reads each route's required scopes once (decorators do not change once the app
 * runs) and answers the refusal for a principal that lacks one.
 */
export class RequiredScopesPolicy {
  private readonly byHandler = new WeakMap<object, WeakMap<object, readonly string[]>>();

  constructor(private readonly reflector: Reflector) {}

  /**
   * A 403 for `principal` on this route when its token lacks a required scope; undefined when it may pass. A missing
   * principal (a subclass admitting anonymous callers) has no scopes.
   */
  refusal(
    context: ExecutionContext,
    principal: V3Principal | null | undefined,
  ): V3InsufficientScopeException | undefined {
    const required = this.requiredScopes(context.getHandler(), context.getClass());
    if (required.length === 0) return undefined;
    const granted: GrantedScopes =
      (principal as { scopes?: readonly string[] } | null | undefined)?.scopes ?? principal?.scope;
    const missing = missingScopes(granted, required);
    return missing.length === 0 ? undefined : new V3InsufficientScopeException(required, missing);
  }

  private requiredScopes(handler: RouteHandler, type: RouteClass): readonly string[] {
    let byClass = this.byHandler.get(handler);
    let known = byClass?.get(type);
    if (known === undefined) {
      known =
        this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES_KEY, [handler, type]) ?? NONE;
      if (byClass === undefined) this.byHandler.set(handler, (byClass = new WeakMap()));
      byClass.set(type, known);
    }
    return known;
  }
}
