import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { V3TokenException } from 'nestjs-v3-token-auth';
import { requestIdOf } from '../logging/request-id.js';
import { toErrorReply, toOAuthErrorReply } from './error-reply.js';

/** Path of the gateway's token endpoint, whose errors are OAuth 2.0 JSON. */
export const TOKEN_PATH = '/token';
/** Path of the gateway's revocation endpoint (RFC 7009), whose errors are OAuth 2.0 JSON too. */
export const REVOKE_PATH = '/revoke';

/**
 * Whether the request is a call of an OAuth endpoint (`POST /token`, `POST /revoke`); another method there is the
 * gateway's 404.
 */
function isOAuthEndpoint(method: string, url: string): boolean {
  if (method !== 'POST') return false;
  return [TOKEN_PATH, REVOKE_PATH].some((path) => url === path || url.startsWith(`${path}?`));
}

/**
 * Every error on the gateway's own routes (and unknown paths) as JSON: OAuth 2.0 `{ error, error_description }`
 * under `POST /token` and `POST /revoke`, `{ statusCode, error, message }` elsewhere; the headers a `V3TokenException` carries
 * (`WWW-Authenticate`, `Retry-After`) are put on the reply. 5xx causes are logged, never sent.
 */
@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('GatewayExceptionFilter');

  /** `metrics` aggregates the warnings of tokens that could not be got (`GatewayMetrics.tokenUnavailable`). */
  constructor(private readonly metrics: GatewayMetrics) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const answer = isOAuthEndpoint(request.method, request.url)
      ? toOAuthErrorReply(exception)
      : toErrorReply(exception);
    if (exception instanceof V3TokenException) {
      if (answer.status >= 500)
        this.metrics.tokenUnavailable(requestIdOf(request.raw), answer.status, exception.message);
    } else if (answer.status >= 500) {
      this.logger.error(
        { reqId: requestIdOf(request.raw), err: exception, status: answer.status },
        'request failed',
      );
    }
    if (reply.sent) return;
    void reply
      .code(answer.status)
      .headers(answer.headers)
      .header('Cache-Control', 'no-store')
      .type('application/json; charset=utf-8')
      .send(answer.body);
  }
}
