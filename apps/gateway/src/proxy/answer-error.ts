import { V3TokenException } from 'nestjs-v3-token-auth';
import { toErrorReply } from '../errors/error-reply.js';
import type { ProxyExchange } from './proxy-exchange.js';

/** Where the proxy reports failures: a pino-compatible logger. */
export interface ProxyLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
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
      if (error instanceof V3TokenException)
        logger.warn({ reqId, status: answer.status, reason: answer.body.message }, 'token unavailable');
      else logger.error({ reqId, err: error }, 'proxy request failed');
    }
    exchange.answer(answer.status, answer.body, answer.headers);
  } catch {
    // An answer that cannot even be written ends the connection: never an unhandled rejection (it ends the process).
    exchange.response.destroy();
  }
}
