import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { V3TokenException } from 'nestjs-v3-token-auth';

/** An error as the gateway answers it: status, extra headers and a JSON body. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: { statusCode: number; error: string; message: string; oauthError?: string };
}

/** OAuth 2.0 error body (RFC 6749 §5.2), the shape of every `POST /token` error. */
export interface OAuthErrorBody {
  error: string;
  error_description: string;
}

function statusOf(exception: unknown): number | undefined {
  const status = (exception as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

function messageOf(response: string | object): string | undefined {
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : undefined;
}

/**
 * The body of the gateway's plain JSON error (never an OAuth one): `{ statusCode, error, message }`, `error` the
 * status's reason phrase, and `message` that too when none is given.
 * @example plainErrorBody(405, 'TRACE is not allowed on proxied routes')
 */
export function plainErrorBody(status: number, message?: string): ErrorReply['body'] {
  const error = STATUS_CODES[status] ?? 'Error';
  return { statusCode: status, error, message: message ?? error };
}

/**
 * Turns anything thrown while serving a request into the JSON the gateway answers: `V3TokenException`s keep their
 * body and headers (`WWW-Authenticate`, `Retry-After`); other `HttpException`s and Fastify's 4xx errors (malformed
 * body, unsupported media type, oversized payload) keep their status; anything else is a 500 that reveals nothing.
 */
export function toErrorReply(exception: unknown): ErrorReply {
  if (exception instanceof V3TokenException) {
    return {
      status: exception.getStatus(),
      headers: exception.headers,
      body: exception.getResponse() as ErrorReply['body'],
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return { status, headers: {}, body: plainErrorBody(status, messageOf(exception.getResponse())) };
  }
  const status = statusOf(exception);
  if (status !== undefined && status < 500) {
    const message = (exception as { message?: unknown }).message;
    return {
      status,
      headers: {},
      body: plainErrorBody(status, typeof message === 'string' ? message : undefined),
    };
  }
  return {
    status: 500,
    headers: {},
    body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' },
  };
}

const OAUTH_ERROR_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'invalid_client',
  413: 'invalid_request',
  415: 'invalid_request',
  429: 'slow_down',
  503: 'temporarily_unavailable',
};

/**
 * The `POST /token` form of an error: `{ error, error_description }`. A refused user grant (`invalid_grant`) is a
 * 400 as RFC 6749 §5.2 says, without `WWW-Authenticate`; client authentication failures stay 401 with it.
 */
export function toOAuthErrorReply(exception: unknown): {
  status: number;
  headers: Record<string, string>;
  body: OAuthErrorBody;
} {
  const reply = toErrorReply(exception);
  const error = reply.body.oauthError ?? OAUTH_ERROR_BY_STATUS[reply.status] ?? 'server_error';
  let { status, headers } = reply;
  if (status === 401 && error === 'invalid_grant') {
    status = 400;
    headers = {};
  }
  return { status, headers, body: { error, error_description: reply.body.message } };
}
