import { TOKEN_CHARACTERS } from '../issuer/v3-token-response.parser.js';
import { V3BadRequestException, V3UnauthorizedException } from '../v3-token.exceptions.js';

/** A parsed `Authorization` header. */
export type ParsedAuthorization =
  { scheme: 'basic'; id: string; secret: string } | { scheme: 'bearer'; token: string };

/** Largest Authorization header accepted by default, bytes. */
export const DEFAULT_MAX_HEADER_BYTES = 4096;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_ID_LENGTH = 256;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new V3BadRequestException('Basic credentials are not valid application/x-www-form-urlencoded text');
  }
}

/**
 * Parses `Basic base64(id:secret)` (RFC 7617). With `formEncoded` (client authentication at a token endpoint,
 * RFC 6749 §2.3.1) id and secret are form-url-decoded. Errors never echo the header.
 */
export function parseBasicAuthorization(header: string, formEncoded = false): { id: string; secret: string } {
  const parsed = parseAuthorization(header);
  if (parsed.scheme !== 'basic') {
    throw new V3UnauthorizedException('Expected Basic client credentials', 'invalid_client');
  }
  return formEncoded
    ? { id: formDecode(parsed.id), secret: formDecode(parsed.secret) }
    : { id: parsed.id, secret: parsed.secret };
}

/**
 * Parses an `Authorization` header: `Basic base64(id:secret)` or `Bearer <token>`.
 * Missing or refused credentials are 401; malformed or oversized headers are 400. Errors never echo the header.
 */
export function parseAuthorization(
  header: string | string[] | undefined,
  maxBytes = DEFAULT_MAX_HEADER_BYTES,
): ParsedAuthorization {
  if (Array.isArray(header)) {
    throw new V3BadRequestException('Send exactly one Authorization header');
  }
  if (header === undefined || header.trim() === '') {
    throw new V3UnauthorizedException(
      'Missing Authorization header: send Basic base64(client_id:client_secret) or Bearer <access_token>',
    );
  }
  if (Buffer.byteLength(header) > maxBytes) {
    throw new V3BadRequestException(`Authorization header is larger than ${maxBytes} bytes`);
  }
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();

  if (scheme === 'bearer') {
    // Any token the issuer may answer (visible ASCII), not only RFC 6750's b64token: `POST /token` hands such tokens
    // out, and they must open the routes too.
    if (!TOKEN_CHARACTERS.test(value)) {
      throw new V3UnauthorizedException('Bearer token is missing or malformed', 'invalid_token');
    }
    return { scheme: 'bearer', token: value };
  }
  if (scheme !== 'basic') {
    throw new V3UnauthorizedException(
      'Unsupported authorization scheme: use Basic or Bearer',
      'invalid_request',
    );
  }
  if (!BASE64.test(value) || value.length % 4 !== 0) {
    throw new V3UnauthorizedException('Basic credentials are not valid base64', 'invalid_request');
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    throw new V3UnauthorizedException('Basic credentials are not valid UTF-8', 'invalid_request');
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    throw new V3UnauthorizedException(
      'Basic credentials must be id:secret (no colon found)',
      'invalid_request',
    );
  }
  const id = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  if (id === '') {
    throw new V3UnauthorizedException('Basic credentials have an empty id', 'invalid_client');
  }
  if (secret === '') {
    throw new V3UnauthorizedException('Basic credentials have an empty secret', 'invalid_client');
  }
  if (CONTROL.test(id) || CONTROL.test(secret)) {
    throw new V3BadRequestException('Basic credentials contain control characters');
  }
  if (id.length > MAX_ID_LENGTH) {
    throw new V3BadRequestException(`Basic credentials have an id longer than ${MAX_ID_LENGTH} characters`);
  }
  return { scheme: 'basic', id, secret };
}
