import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import type { ProxyExchange } from './proxy-exchange.js';
import { GatewayProxyRoute, ProxyExecutionContext } from './proxy-execution-context.js';

const response = { setHeader: () => undefined };
const exchange = { response } as unknown as ProxyExchange;

describe('ProxyExecutionContext', () => {
  it("answers every question as Nest's ExecutionContextHost does for the same request", () => {
    const ours = new ProxyExecutionContext(exchange);
    const nest = new ExecutionContextHost(
      [exchange, response],
      GatewayProxyRoute,
      GatewayProxyRoute.prototype.forward,
    );
    expect(ours.getType()).toBe(nest.getType());
    expect(ours.getClass()).toBe(nest.getClass());
    expect(ours.getHandler()).toBe(nest.getHandler());
    expect(ours.getArgs()).toEqual(nest.getArgs());
    expect(ours.getArgs()).toBe(ours.getArgs());
    for (const index of [0, 1, 2]) expect(ours.getArgByIndex(index)).toBe(nest.getArgByIndex(index));
    const [http, nestHttp] = [ours.switchToHttp(), nest.switchToHttp()];
    expect(http.getRequest()).toBe(nestHttp.getRequest());
    expect(http.getResponse()).toBe(nestHttp.getResponse());
    expect(http.getNext()).toBe(nestHttp.getNext());
    const [rpc, nestRpc] = [ours.switchToRpc(), nest.switchToRpc()];
    expect([rpc.getData(), rpc.getContext()]).toEqual([nestRpc.getData(), nestRpc.getContext()]);
    const [ws, nestWs] = [ours.switchToWs(), nest.switchToWs()];
    expect([ws.getClient(), ws.getData(), ws.getPattern()]).toEqual([
      nestWs.getClient(),
      nestWs.getData(),
      nestWs.getPattern(),
    ]);
  });

  it('is its own HTTP host: switching to HTTP creates no new functions (Nest assigns three per call)', () => {
    const context = new ProxyExecutionContext(exchange);
    expect(context.switchToHttp()).toBe(context);
    expect(context.switchToHttp().getRequest).toBe(context.switchToHttp().getRequest);
    const nest = new ExecutionContextHost([exchange, response]);
    expect(nest.switchToHttp().getRequest).not.toBe(nest.switchToHttp().getRequest);
  });
});
