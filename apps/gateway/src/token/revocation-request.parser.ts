import {
  parseBasicAuthorization,
  V3BadRequestException,
  V3UnauthorizedException,
} from 'nestjs-v3-token-auth';
import { z } from 'zod';

const MAX_FIELD_LENGTH = 4096;

const field = z
  .string({ message: 'must be a single string value (send each parameter once)' })
  .max(MAX_FIELD_LENGTH, { message: `must be at most ${MAX_FIELD_LENGTH} characters` })
  .optional();

const revocationBody = z.object({
  token: z
    .string({ message: 'is required: the token to revoke' })
    .min(1, { message: 'is required: the token to revoke' })
    .max(MAX_FIELD_LENGTH, { message: `must be at most ${MAX_FIELD_LENGTH} characters` }),
  token_type_hint: field,
  client_id: field,
  client_secret: field,
});

/** A `POST /revoke` request (RFC 7009 §2.1), with the client credentials that authenticate it. */
export interface RevocationRequest {
  token: string;
  tokenTypeHint?: string;
  client: { clientId: string; clientSecret: string };
}

/**
 * Reads an RFC 7009 revocation request from a `POST /revoke` body (form or JSON) and the client's credentials from an
 * `Authorization: Basic` header or `client_id`/`client_secret` in the body (not both, disagreeing). Bad input is
 * `invalid_request` (400); no client credentials is `invalid_client` (401). Messages name parameters, never values.
 */
export function parseRevocationRequest(
  body: unknown,
  authorization: string | string[] | undefined,
): RevocationRequest {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new V3BadRequestException(
      'Send the revocation request as application/x-www-form-urlencoded (or JSON) with token and client credentials',
    );
  }
  const parsed = revocationBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new V3BadRequestException(`${issue.path.join('.') || 'body'} ${issue.message}`);
  }
  const { token, token_type_hint, client_id, client_secret } = parsed.data;
  let clientId = client_id || undefined;
  let clientSecret = client_secret || undefined;
  if (authorization !== undefined) {
    if (Array.isArray(authorization))
      throw new V3BadRequestException('Send exactly one Authorization header');
    const basic = parseBasicAuthorization(authorization, true);
    if (
      (clientId !== undefined && clientId !== basic.id) ||
      (clientSecret !== undefined && clientSecret !== basic.secret)
    ) {
      throw new V3BadRequestException(
        'Client credentials were sent both in the Authorization header and in the body, and they differ: use one method',
      );
    }
    clientId = basic.id;
    clientSecret = basic.secret;
  }
  if (clientId === undefined || clientSecret === undefined) {
    throw new V3UnauthorizedException(
      'Revocation needs client authentication: a Basic header or client_id and client_secret in the body',
      'invalid_client',
    );
  }
  const request: RevocationRequest = { token, client: { clientId, clientSecret } };
  if (token_type_hint) request.tokenTypeHint = token_type_hint;
  return request;
}
