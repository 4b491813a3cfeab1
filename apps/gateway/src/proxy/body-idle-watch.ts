import type { CallCancellation } from './call-cancellation.js';
import type { EdgeRefusalReason } from './edge-refusal.js';
import type { ProxyExchange } from './proxy-exchange.js';

/**
 * Answers 408 (and cancels the downstream call) when the request body of an admitted request sends nothing for
 * `timeoutMs`. The watch ends with the body or with the answer, whichever comes first: an answer sent before the body
 * ended (a downstream's early 413 …) leaves no timer behind and cancels the downstream call, which would otherwise
 * wait for the rest of the body. `refused` counts the 408 as an edge refusal of the caller's address.
 */
export function watchBodyIdle(
  exchange: ProxyExchange,
  cancel: CallCancellation,
  timeoutMs: number,
  refused?: (reason: EdgeRefusalReason, callerAddress: string) => void,
): void {
  const { raw, response } = exchange;
  const onIdle = (): void => {
    stop();
    cancel.abort();
    if (!exchange.answerable) {
      raw.destroy();
      return;
    }
    refused?.('body_idle_timeout', exchange.forwarding?.callerAddress ?? '');
    exchange.refuse(408, `The request body sent nothing for ${timeoutMs} ms`, { connection: 'close' });
  };
  const onBodyEnd = (): void => {
    stop();
    raw.setTimeout(0);
  };
  const onAnswered = (): void => {
    stop();
    if (!raw.complete) cancel.abort();
  };
  const stop = (): void => {
    raw.off('timeout', onIdle);
    raw.off('end', onBodyEnd);
    response.off('finish', onAnswered);
  };
  raw.setTimeout(timeoutMs, onIdle);
  raw.once('end', onBodyEnd);
  response.once('finish', onAnswered);
}
