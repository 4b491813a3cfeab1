import { V3TokenException } from 'nestjs-v3-token-auth';
import { toErrorReply } from '../errors/error-reply.js';
import type { ProxyExchange } from './proxy-exchange.js';

/** Where the proxy reports failures: a pino-compatible logger. */
export interface ProxyLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  /**
   * A caller was answered `status` (5xx) because no token could be got (issuer down, queue full …); when absent it
   * is a `warn`. The gateway aggregates these (`GatewayMetrics.tokenUnavailable`): an outage is not a line per request.
   */
  tokenUnavailable?(requestId: string, status: number, reason: string): void;
}

/**
 * Answers `error` (a `V3TokenException` as its OAuth status, anything else a 500 that names nothing) unless an
 * answer was started, and logs what the caller cannot fix: a token the gateway could not get, an unexpected error.
 */
export function answerError(exchange: ProxyExchange, error: unknown, logger: ProxyLogger): void {
  try {
    const answer = toErrorReply(error);
    if (answer.status >= 500) {
      const reqId = exchange.requestId;
      if (!(error instanceof V3TokenException)) logger.error({ reqId, err: error }, 'proxy request failed');
      else if (logger.tokenUnavailable) logger.tokenUnavailable(reqId, answer.status, answer.body.message);
      else logger.warn({ reqId, status: answer.status, reason: answer.body.message }, 'token unavailable');
    }
    exchange.answer(answer.status, answer.body, answer.headers);
  } catch {
    // An answer that cannot even be written ends the connection: never an unhandled rejection (it ends the process).
    exchange.response.destroy();
  }
}
