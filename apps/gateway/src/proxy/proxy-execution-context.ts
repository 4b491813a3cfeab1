import type { ContextType, ExecutionContext, Type } from '@nestjs/common';
import type { ProxyExchange } from './proxy-exchange.js';

type HttpArgumentsHost = ReturnType<ExecutionContext['switchToHttp']>;
type RpcArgumentsHost = ReturnType<ExecutionContext['switchToRpc']>;
type WsArgumentsHost = ReturnType<ExecutionContext['switchToWs']>;

/** Stands for the proxy handler in the guard's execution context (its metadata lookups, e.g. `@Public()`). */
export class GatewayProxyRoute {
  forward(): void {}
}

const HANDLER = GatewayProxyRoute.prototype.forward;

/**
 * What the authentication guard sees of one proxied request: an HTTP `ExecutionContext` whose request is the
 * exchange and whose response is the caller's, for the `GatewayProxyRoute` handler. It is its own HTTP host: Nest's
 * `ExecutionContextHost.switchToHttp()` allocates an object and three closures and copies them onto the context on
 * every call, once per request on the warm path. Its HTTP getters are methods, not closures: call them on the host
 * (`context.switchToHttp().getRequest()`, as Nest's and this library's guards do); taken off it, they lose `this`.
 */
export class ProxyExecutionContext implements ExecutionContext, HttpArgumentsHost {
  /** The handler's arguments, made on first use (the guard's warm path never asks for them). */
  private args: [ProxyExchange, ProxyExchange['response']] | undefined = undefined;

  constructor(private readonly exchange: ProxyExchange) {}

  getType<TContext extends string = ContextType>(): TContext {
    return 'http' as TContext;
  }

  getClass<T = GatewayProxyRoute>(): Type<T> {
    return GatewayProxyRoute as Type<T>;
  }

  getHandler(): () => void {
    return HANDLER;
  }

  getArgs<T extends unknown[] = unknown[]>(): T {
    return (this.args ??= [this.exchange, this.exchange.response]) as unknown as T;
  }

  getArgByIndex<T = unknown>(index: number): T {
    return this.getArgs()[index] as T;
  }

  switchToHttp(): HttpArgumentsHost {
    return this;
  }

  getRequest<T = ProxyExchange>(): T {
    return this.exchange as T;
  }

  getResponse<T = ProxyExchange['response']>(): T {
    return this.exchange.response as T;
  }

  getNext<T = undefined>(): T {
    return undefined as T;
  }

  /** As Nest's host: the arguments by position (a proxied request has no RPC data). */
  switchToRpc(): RpcArgumentsHost {
    return { getData: () => this.getArgByIndex(0), getContext: () => this.getArgByIndex(1) };
  }

  /** As Nest's host: the arguments by position (a proxied request has no WebSocket client). */
  switchToWs(): WsArgumentsHost {
    return {
      getClient: () => this.getArgByIndex(0),
      getData: () => this.getArgByIndex(1),
      getPattern: () => this.getArgByIndex<string>(1),
    };
  }
}
