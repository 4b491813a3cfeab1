import { parseBasicAuthorization, V3BadRequestException, type V3TokenRequest } from 'nestjs-v3-token-auth';
import { z } from 'zod';

const MAX_FIELD_LENGTH = 4096;

const field = z
  .string({ message: 'must be a single string value (send each parameter once)' })
  .max(MAX_FIELD_LENGTH, { message: `must be at most ${MAX_FIELD_LENGTH} characters` })
  .optional();

const tokenRequestBody = z.object({
  grant_type: z
    .string({ message: 'is required: client_credentials, password or refresh_token' })
    .min(1, { message: 'is required: client_credentials, password or refresh_token' }),
  client_id: field,
  client_secret: field,
  username: field,
  password: field,
  refresh_token: field,
  scope: field,
  resource: field,
});

/**
 * Reads a `V3TokenRequest` from a `POST /token` body (form or JSON) and an optional `Authorization: Basic` header
 * (RFC 6749 §2.3.1, form-url-decoded). Credentials may come from either; both, disagreeing, is `invalid_request`.
 * Error messages name the parameter, never its value.
 */
export function parseTokenRequest(
  body: unknown,
  authorization: string | string[] | undefined,
): V3TokenRequest {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new V3BadRequestException(
      'Send the token request as application/x-www-form-urlencoded (or JSON) with grant_type and client credentials',
    );
  }
  const parsed = tokenRequestBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new V3BadRequestException(`${issue.path.join('.') || 'body'} ${issue.message}`);
  }
  const { grant_type, ...fields } = parsed.data;
  const request: V3TokenRequest = { grant_type: grant_type as V3TokenRequest['grant_type'] };
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== '')
      request[name as Exclude<keyof V3TokenRequest, 'grant_type'>] = value;
  }

  if (authorization !== undefined) {
    if (Array.isArray(authorization))
      throw new V3BadRequestException('Send exactly one Authorization header');
    const basic = parseBasicAuthorization(authorization, true);
    if (
      (request.client_id !== undefined && request.client_id !== basic.id) ||
      (request.client_secret !== undefined && request.client_secret !== basic.secret)
    ) {
      throw new V3BadRequestException(
        'Client credentials were sent both in the Authorization header and in the body, and they differ: use one method',
      );
    }
    request.client_id = basic.id;
    request.client_secret = basic.secret;
  }
  return request;
}
