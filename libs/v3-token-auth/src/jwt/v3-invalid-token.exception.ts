import { HttpStatus } from '@nestjs/common';
import { V3TokenException } from '../v3-token.exceptions.js';

/**
 * 401 `invalid_token` (RFC 6750 §3.1): a Bearer JWT that is malformed, expired, of another issuer or audience, signed
 * with a refused algorithm or by a key the issuer does not publish. The message names the problem, never the token.
 */
export class V3InvalidTokenException extends V3TokenException {
  constructor(message: string, realm = 'v3-token') {
    super(
      HttpStatus.UNAUTHORIZED,
      'Unauthorized',
      message,
      { 'WWW-Authenticate': `Bearer realm="${realm}", error="invalid_token"` },
      'invalid_token',
    );
  }
}
