import type { Socket } from 'node:net';
import type { ProxyExchange } from './proxy-exchange.js';

/**
 * The exchanges whose answers wait behind an earlier answer on their connection (HTTP/1.1 pipelining), ended when
 * that connection closes: node:http never emits `close` on a response that did not get its socket, so without this
 * a caller who pipelines requests and leaves would keep their downstream slots (and calls) forever. An answer that
 * has its socket is ended by the response's own `close`, so the common, unpipelined request costs nothing here.
 */
export class QueuedExchanges {
  private readonly bySocket = new WeakMap<Socket, Set<ProxyExchange>>();

  /** Watches `exchange` while its answer waits for its turn on the connection. */
  watch(exchange: ProxyExchange): void {
    if (exchange.response.socket !== null) return;
    const socket = exchange.socket;
    let queued = this.bySocket.get(socket);
    if (queued === undefined) {
      const exchanges = new Set<ProxyExchange>();
      queued = exchanges;
      this.bySocket.set(socket, exchanges);
      socket.once('close', () => {
        this.bySocket.delete(socket);
        for (const waiting of exchanges) waiting.end();
      });
    }
    queued.add(exchange);
    exchange.onEnd(() => queued.delete(exchange));
  }
}
