import {
  V3InvalidCredentialsException,
  V3IssuerThrottledException,
  V3IssuerUnavailableException,
  V3RequestRefusedException,
} from '../v3-token.exceptions.js';
import { TokenEndpointError } from './token-endpoint.error.js';

/** Seconds a caller is told to wait when the issuer named no `Retry-After`. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * The Nest module's edge: a {@link TokenEndpointError} as the HTTP exception the caller gets; anything else as it is.
 * | kind | answer |
 * | --- | --- |
 * | `credential` | 401 with the issuer's `error` (`V3InvalidCredentialsException`) |
 * | `request` | 400 with the issuer's `error` (`V3RequestRefusedException`) |
 * | `throttled-by-issuer` | 429 with `Retry-After` (`V3IssuerThrottledException`) |
 * | `issuer` | 503 with `Retry-After` (`V3IssuerUnavailableException`) |
 */
export function toV3Exception(error: unknown): unknown {
  if (!(error instanceof TokenEndpointError)) return error;
  const status = error.status ?? 0;
  switch (error.kind) {
    case 'credential':
      return new V3InvalidCredentialsException(status, error.error, error.errorDescription);
    case 'request':
      return new V3RequestRefusedException(status, error.error, error.errorDescription);
    case 'throttled-by-issuer':
      return new V3IssuerThrottledException(error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
    default:
      return new V3IssuerUnavailableException(
        error.errorDescription ?? error.message,
        error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
      );
  }
}
