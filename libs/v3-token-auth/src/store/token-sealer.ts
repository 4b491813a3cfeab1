import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { V3EncryptionKey } from '../module/v3-token-auth.options.js';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

function assertValidKeys(keys: V3EncryptionKey[]): void {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(
      'TokenSealer needs at least one encryption key (32 bytes, e.g. `openssl rand -base64 32`)',
    );
  }
  // Keys are named by position, never by id: an id and a key written the wrong way round would echo the key.
  const seen = new Map<string, number>();
  keys.forEach(({ id, key }, index) => {
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      throw new Error(
        `Encryption key #${index + 1} has an invalid id: use 1-32 letters, digits, '_' or '-' (no '.')`,
      );
    }
    const first = seen.get(id);
    if (first !== undefined)
      throw new Error(
        `Encryption keys #${first} and #${index + 1} have the same id: give every key its own id`,
      );
    seen.set(id, index + 1);
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
      const got = Buffer.isBuffer(key) ? `${key.length} bytes` : typeof key;
      throw new Error(
        `Encryption key #${index + 1} must be exactly ${KEY_BYTES} bytes, got ${got}: generate one with \`openssl rand -base64 32\``,
      );
    }
  });
}

function decodeBase64Url(value: string, expectedBytes?: number): Buffer | undefined {
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.toString('base64url') !== value) return undefined;
  if (expectedBytes !== undefined && bytes.length !== expectedBytes) return undefined;
  return bytes;
}

/**
 * Seals cached tokens at rest with AES-256-GCM. The first key seals; every key opens, so a previous key
 * keeps opening old entries after a rotation. The additional authenticated data binds a sealed value to
 * its place (the Redis key), so it cannot be moved to another one.
 * @example
 * const sealer = new TokenSealer([{ id: 'k2', key: newKey }, { id: 'k1', key: oldKey }]);
 * const sealed = sealer.seal(json, 'v3t:{abc}'); // 'v1.k2.<iv>.<tag>.<ciphertext>'
 */
export class TokenSealer {
  private readonly sealingKeyId: string;
  private readonly sealingKey: KeyObject;
  private readonly keys = new Map<string, KeyObject>();

  constructor(keys: V3EncryptionKey[]) {
    assertValidKeys(keys);
    for (const { id, key } of keys) this.keys.set(id, createSecretKey(Buffer.from(key)));
    this.sealingKeyId = keys[0].id;
    this.sealingKey = this.keys.get(this.sealingKeyId)!;
  }

  /** Encrypts `plaintext` under the first key, bound to `aad`: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url). */
  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealingKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${FORMAT}.${this.sealingKeyId}.${iv.toString('base64url')}.${tag.toString('base64url')}.${ciphertext.toString('base64url')}`;
  }

  /** The plaintext, or undefined for a bad format, an unknown key id, tampered data or another `aad`. Never throws. */
  open(sealed: string, aad: string): string | undefined {
    if (typeof sealed !== 'string') return undefined;
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== FORMAT) return undefined;
    const [, keyId, ivText, tagText, ciphertextText] = parts;
    const key = this.keys.get(keyId);
    const iv = decodeBase64Url(ivText, IV_BYTES);
    const tag = decodeBase64Url(tagText, TAG_BYTES);
    const ciphertext = decodeBase64Url(ciphertextText);
    if (!key || !iv || !tag || !ciphertext) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/** Key `text` under `id`; errors name it by its `position` in the list (from 1), never by its id. */
function decodeKey(id: string, text: string, position: number): V3EncryptionKey {
  const value = text.trim();
  if (!BASE64.test(value)) {
    throw new Error(
      `Encryption key #${position} is not base64: give base64 of 32 random bytes, e.g. \`openssl rand -base64 32\``,
    );
  }
  const key = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `Encryption key #${position} must decode to exactly ${KEY_BYTES} bytes, got ${key.length}: generate one with \`openssl rand -base64 32\``,
    );
  }
  return { id, key };
}

/**
 * Parses encryption keys from configuration text: one base64 key (id `k1`), or comma-separated `id:base64`
 * pairs, newest first (the first seals, all open). Throws an Error naming the fix; never echoes a key.
 * @example parseEncryptionKeys('k2:BASE64NEW,k1:BASE64OLD')
 */
export function parseEncryptionKeys(value: string): V3EncryptionKey[] {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '') {
    throw new Error(
      'Encryption key is empty: give base64 of 32 random bytes, e.g. `openssl rand -base64 32`',
    );
  }
  const keys =
    text.includes(':') || text.includes(',')
      ? text.split(',').map((pair, index) => {
          const separator = pair.indexOf(':');
          if (separator <= 0) {
            throw new Error(
              `Encryption key #${index + 1} is not "id:base64": write keys as comma-separated id:base64 pairs, newest first`,
            );
          }
          return decodeKey(pair.slice(0, separator).trim(), pair.slice(separator + 1), index + 1);
        })
      : [decodeKey('k1', text, 1)];
  assertValidKeys(keys);
  return keys;
}
