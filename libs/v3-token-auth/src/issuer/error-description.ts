/** Longest `error_description` relayed from the issuer, characters. */
export const MAX_ERROR_DESCRIPTION_LENGTH = 200;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The spellings of `secret` an issuer may echo: raw, percent-encoded (either case, `%20` or `+`), form-decoded with
 * `decodeURIComponent` (which leaves a space's `+` in place), base64 (padded or not) and base64url. Matched longest
 * first, so that a shorter form never splits a longer one.
 */
function secretPattern(secret: string): RegExp {
  const bytes = Buffer.from(secret, 'utf8');
  const base64 = bytes.toString('base64');
  const forms = [
    secret,
    secret.replaceAll(' ', '+'),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    base64,
    base64.replace(/=+$/, ''),
    bytes.toString('base64url'),
  ];
  const unique = [...new Set(forms.filter((form) => form.length > 0))].sort((a, b) => b.length - a.length);
  return new RegExp(unique.map(escapeRegExp).join('|'), 'gi');
}

/**
 * Control characters stripped, the caller's secrets redacted in every encoding (`secretPattern`; matched without
 * regard to case, so a percent-encoded `%2f` and `%2F` both go), at most `MAX_ERROR_DESCRIPTION_LENGTH` characters.
 */
export function sanitizeDescription(description: string, secrets: readonly string[] = []): string {
  let clean = description.replace(CONTROL_CHARACTERS, ' ');
  for (const secret of secrets) {
    if (secret) clean = clean.replace(secretPattern(secret), '[redacted]');
  }
  clean = clean.trim();
  return clean.length > MAX_ERROR_DESCRIPTION_LENGTH
    ? `${clean.slice(0, MAX_ERROR_DESCRIPTION_LENGTH - 1)}…`
    : clean;
}
