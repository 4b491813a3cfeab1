import { describe, it, expect } from '@jest/globals';
import { MAX_ERROR_DESCRIPTION_LENGTH, sanitizeDescription } from './error-description.js';

describe('sanitizeDescription', () => {
  const secret = 's3cret/with+chars & more';

  it('redacts the raw secret and each encoding an issuer may echo', () => {
    const bytes = Buffer.from(secret, 'utf8');
    const forms = [
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
      bytes.toString('base64'),
      bytes.toString('base64').replace(/=+$/, ''),
      bytes.toString('base64url'),
    ];
    for (const form of forms) {
      expect(sanitizeDescription(`seen ${form} here`, [secret])).toBe('seen [redacted] here');
    }
  });

  it('redacts a form body decoded with decodeURIComponent, which leaves a space as +', () => {
    const form = new URLSearchParams({ client_secret: secret }).toString();
    const echoed = decodeURIComponent(form);
    expect(echoed).toBe('client_secret=s3cret/with+chars+&+more');
    expect(sanitizeDescription(`bad ${echoed}`, [secret])).toBe('bad client_secret=[redacted]');
  });

  it('redacts a percent-encoding in the other case too', () => {
    const lower = encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
    expect(lower).not.toBe(encodeURIComponent(secret));
    expect(sanitizeDescription(`bad ${lower}`, [secret])).toBe('bad [redacted]');
  });

  it('redacts every secret it is given, and ignores empty ones', () => {
    expect(sanitizeDescription('user alice, password hunter2, client s3', ['hunter2', '', 's3'])).toBe(
      'user alice, password [redacted], client [redacted]',
    );
  });

  it('turns control and line-separator characters into spaces and trims the ends', () => {
    expect(sanitizeDescription('\u0000first\r\nforged: line\u2028end\u001b[0m ')).toBe(
      'first  forged: line end [0m',
    );
  });

  it(`cuts a description longer than ${MAX_ERROR_DESCRIPTION_LENGTH} characters with an ellipsis`, () => {
    const cut = sanitizeDescription('x'.repeat(MAX_ERROR_DESCRIPTION_LENGTH + 50));
    expect(cut).toHaveLength(MAX_ERROR_DESCRIPTION_LENGTH);
    expect(cut.endsWith('…')).toBe(true);
    const exact = 'y'.repeat(MAX_ERROR_DESCRIPTION_LENGTH);
    expect(sanitizeDescription(exact)).toBe(exact);
  });

  it('redacts before it cuts, so a secret at the cut never leaves in part', () => {
    const padding = 'p'.repeat(MAX_ERROR_DESCRIPTION_LENGTH - 5);
    const cut = sanitizeDescription(`${padding}${secret}`, [secret]);
    expect(cut).not.toContain(secret.slice(0, 4));
    expect(cut.startsWith(`${padding}[red`)).toBe(true);
  });
});
