import { hash } from 'node:crypto';
import { type CachedToken, MAX_RECENT_VERIFIERS, type RecentVerifier } from '../token-store.interface.js';

/**
 * The format of an entry's value in Redis: `<sha256(accessToken) hex>|<payload>`, the payload being the entry's JSON
 * or its sealed form. The fingerprint lets a compare-and-delete match a token without reading the payload, and a
 * value whose fingerprint does not match the token in its payload (tampered or mixed-up bytes) is not an entry.
 */

const FINGERPRINT_LENGTH = 64;
const SEPARATOR = '|';

/** What every stored value of the entry holding `accessToken` starts with. */
export function storedValuePrefix(accessToken: string): string {
  return `${hash('sha256', accessToken, 'hex')}${SEPARATOR}`;
}

/** The stored value of an entry holding `accessToken`, whose payload (JSON or sealed) is `payload`. */
export function storedValue(accessToken: string, payload: string): string {
  return storedValuePrefix(accessToken) + payload;
}

/** The payload of a stored value, or undefined when `raw` is not of the format. */
export function payloadOf(raw: string): string | undefined {
  if (raw.length <= FINGERPRINT_LENGTH + 1 || raw[FINGERPRINT_LENGTH] !== SEPARATOR) return undefined;
  return raw.slice(FINGERPRINT_LENGTH + 1);
}

/**
 * The entry whose JSON is `json`, read from the stored value `raw`: undefined when it does not parse, is not of the
 * shape of a `CachedToken`, or holds another token than `raw`'s fingerprint names.
 */
export function entryOf(json: string, raw: string): CachedToken | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const entry = toCachedToken(parsed);
  if (entry === undefined || !raw.startsWith(storedValuePrefix(entry.accessToken))) return undefined;
  return entry;
}

/** `entry`, frozen with its recent verifiers: every reader of a decoded value shares one object. */
export function frozen(entry: CachedToken): CachedToken {
  for (const verifier of entry.recentVerifiers ?? []) Object.freeze(verifier);
  if (entry.recentVerifiers) Object.freeze(entry.recentVerifiers);
  return Object.freeze(entry);
}

function isOptional(value: unknown, type: 'string' | 'number'): boolean {
  return value === undefined || typeof value === type;
}

/** The `recentVerifiers` of a stored entry, or null when the field is there but not of that shape. */
function toRecentVerifiers(value: unknown): RecentVerifier[] | undefined | null {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_RECENT_VERIFIERS) return null;
  const verifiers: RecentVerifier[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const { verifier, grantedAt } = item as Record<string, unknown>;
    if (typeof verifier !== 'string' || verifier === '' || typeof grantedAt !== 'number') return null;
    verifiers.push({ verifier, grantedAt });
  }
  return verifiers;
}

/** `value` as a `CachedToken` (a copy of its known fields only), or undefined when it is not of that shape. */
export function toCachedToken(value: unknown): CachedToken | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (
    typeof v.accessToken !== 'string' ||
    v.accessToken === '' ||
    v.tokenType !== 'Bearer' ||
    typeof v.issuedAt !== 'number' ||
    typeof v.expiresAt !== 'number' ||
    typeof v.clientId !== 'string' ||
    typeof v.verifier !== 'string' ||
    !isOptional(v.refreshToken, 'string') ||
    !isOptional(v.refreshExpiresAt, 'number') ||
    !isOptional(v.scope, 'string') ||
    !isOptional(v.resource, 'string') ||
    !isOptional(v.username, 'string') ||
    !isOptional(v.grantTag, 'string')
  ) {
    return undefined;
  }
  const recentVerifiers = toRecentVerifiers(v.recentVerifiers);
  if (recentVerifiers === null) return undefined;
  const entry: CachedToken = {
    accessToken: v.accessToken,
    tokenType: 'Bearer',
    issuedAt: v.issuedAt,
    expiresAt: v.expiresAt,
    clientId: v.clientId,
    verifier: v.verifier,
  };
  if (v.refreshToken !== undefined) entry.refreshToken = v.refreshToken as string;
  if (v.refreshExpiresAt !== undefined) entry.refreshExpiresAt = v.refreshExpiresAt as number;
  if (v.scope !== undefined) entry.scope = v.scope as string;
  if (v.resource !== undefined) entry.resource = v.resource as string;
  if (v.grantTag !== undefined) entry.grantTag = v.grantTag as string;
  if (v.username !== undefined) entry.username = v.username as string;
  if (recentVerifiers !== undefined && recentVerifiers.length > 0) entry.recentVerifiers = recentVerifiers;
  return entry;
}
