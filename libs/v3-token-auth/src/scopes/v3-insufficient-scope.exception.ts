import { HttpStatus } from '@nestjs/common';
import { V3TokenException } from '../v3-token.exceptions.js';

/** JSON body of a 403 `insufficient_scope` (RFC 6750 §3.1). */
export interface V3InsufficientScopeBody {
  statusCode: 403;
  error: 'insufficient_scope';
  error_description: string;
  /** Every scope the resource requires, space-separated. */
  scope: string;
}

/**
 * 403 `insufficient_scope` (RFC 6750 §3.1): the token is valid but lacks a scope the route requires. Carries
 * `WWW-Authenticate: Bearer error="insufficient_scope", scope="<required>"`.
 */
export class V3InsufficientScopeException extends V3TokenException {
  /** Every scope the resource requires. */
  readonly requiredScopes: readonly string[];
  /** The required scopes the token lacks. */
  readonly missingScopes: readonly string[];

  constructor(required: readonly string[], missing: readonly string[]) {
    const scope = required.join(' ');
    const description = `The token lacks the required scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
    super(
      HttpStatus.FORBIDDEN,
      'insufficient_scope',
      description,
      { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
      'insufficient_scope',
    );
    this.requiredScopes = required;
    this.missingScopes = missing;
  }

  /** The RFC 6750 body: `{"error":"insufficient_scope","error_description":…,"scope":…}`. */
  override getResponse(): V3InsufficientScopeBody {
    return {
      statusCode: HttpStatus.FORBIDDEN,
      error: 'insufficient_scope',
      error_description: this.message,
      scope: this.requiredScopes.join(' '),
    };
  }
}
