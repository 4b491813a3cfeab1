import { HttpException, HttpStatus } from '@nestjs/common';

/** OAuth 2.0 / Keycloak error codes the issuer answers for bad credentials. */
export type V3OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_token';

/** JSON body of every error this module raises. */
export interface V3ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** OAuth 2.0 error code, when there is one. */
  oauthError?: string;
}

/** The `Retry-After` header of a refusal: whole seconds, at least 1. */
export function retryAfterHeader(seconds: number): { 'Retry-After': string } {
  return { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) };
}

/** The message of an issuer refusal: its `error` with its description, or `fallback` naming the `error`. */
function issuerRefusalMessage(
  oauthError: string,
  errorDescription: string | undefined,
  fallback: string,
): string {
  return errorDescription ? `${oauthError}: ${errorDescription}` : `${fallback} (${oauthError})`;
}

/** Base of the module's HTTP errors: a JSON body and, optionally, response headers. */
export abstract class V3TokenException extends HttpException {
  constructor(
    status: number,
    error: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly oauthError?: string,
  ) {
    const body: V3ErrorBody = { statusCode: status, error, message };
    if (oauthError) body.oauthError = oauthError;
    super(body, status);
  }
}

/**
 * 401: the caller's credentials are missing, malformed or were refused by the issuer.
 * Carries `WWW-Authenticate`; for an `invalid_token` its Bearer challenge names the error (RFC 6750 §3).
 */
export class V3UnauthorizedException extends V3TokenException {
  constructor(message: string, oauthError: string = 'invalid_client', realm = 'v3-token') {
    const bearer =
      oauthError === 'invalid_token'
        ? `Bearer realm="${realm}", error="invalid_token"`
        : `Bearer realm="${realm}"`;
    super(
      HttpStatus.UNAUTHORIZED,
      'Unauthorized',
      message,
      {
        'WWW-Authenticate': `Basic realm="${realm}", ${bearer}`,
      },
      oauthError,
    );
  }
}

/** 400: the request is malformed (e.g. an oversized or undecodable Authorization header). */
export class V3BadRequestException extends V3TokenException {
  constructor(message: string, oauthError: string = 'invalid_request') {
    super(HttpStatus.BAD_REQUEST, 'Bad Request', message, {}, oauthError);
  }
}

/** 400/401 from the issuer: the credentials were refused (`invalid_client`, `invalid_grant`, `unauthorized_client`). */
export class V3InvalidCredentialsException extends V3UnauthorizedException {
  constructor(
    readonly issuerStatus: number,
    oauthError: string,
    readonly errorDescription?: string,
  ) {
    super(
      issuerRefusalMessage(oauthError, errorDescription, 'The issuer refused the credentials'),
      oauthError,
    );
  }
}

/** 503: the issuer is unavailable (429, 5xx, timeout, refused connection, open circuit). Retryable. */
export class V3IssuerUnavailableException extends V3TokenException {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super(
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
      message,
      retryAfterHeader(retryAfterSeconds),
      'temporarily_unavailable',
    );
  }
}

/** 502: the issuer answered 200 with something that is not a valid V3TokenResponse. Never cached. */
export class V3ProtocolException extends V3TokenException {
  constructor(message: string) {
    super(
      HttpStatus.BAD_GATEWAY,
      'Bad Gateway',
      `The token endpoint answered an invalid token response: ${message}`,
    );
  }
}

/** 429: too many wrong secrets for one client; the right secret is not locked out. */
export class V3TooManyAttemptsException extends V3TokenException {
  /**
   * @param by whose wrong secrets stopped the attempt: this caller address's (over every client id) or this client
   *   id's (from every address); the message says which. @default 'client'
   */
  constructor(
    readonly retryAfterSeconds: number,
    by: 'address' | 'client' = 'client',
  ) {
    super(
      HttpStatus.TOO_MANY_REQUESTS,
      'Too Many Requests',
      by === 'address'
        ? 'Too many failed attempts from this address; retry later'
        : 'Too many failed attempts for this client; retry later',
      retryAfterHeader(retryAfterSeconds),
      'slow_down',
    );
  }
}

/** 400 from the issuer: it refused the request itself (`invalid_scope`, `invalid_request`, …), not a secret. */
export class V3RequestRefusedException extends V3BadRequestException {
  constructor(
    readonly issuerStatus: number,
    oauthError: string,
    readonly errorDescription?: string,
  ) {
    super(issuerRefusalMessage(oauthError, errorDescription, 'The issuer refused the request'), oauthError);
  }
}

/** 429: the issuer answered 429 for this client; honoured for this client until its `Retry-After` has passed. */
export class V3IssuerThrottledException extends V3TokenException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      HttpStatus.TOO_MANY_REQUESTS,
      'Too Many Requests',
      'The issuer asked this client to slow down; retry later',
      retryAfterHeader(retryAfterSeconds),
      'slow_down',
    );
  }
}

/** 429: this caller address asked for too many new grants this minute (`coldGrantsPerAddressPerMinute`). */
export class V3ColdGrantLimitException extends V3TokenException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      HttpStatus.TOO_MANY_REQUESTS,
      'Too Many Requests',
      'Too many new token grants from this address; retry later',
      retryAfterHeader(retryAfterSeconds),
      'slow_down',
    );
  }
}

/**
 * 401: a downstream refused the token of these credentials, and the one re-grant of its window
 * (`reauthCooldownMs`) is spent: no new token is granted for them until the window ends.
 */
export class V3ReauthCooldownException extends V3UnauthorizedException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      `The downstream service refused the token of these credentials; no new token is granted for them for ${Math.max(1, Math.ceil(retryAfterSeconds))} s`,
      'invalid_token',
    );
    Object.assign(this.headers, retryAfterHeader(retryAfterSeconds));
  }
}
