import { request, type Dispatcher } from 'undici';
import { JwksUnavailableError } from './jwks-unavailable.error.js';

/** Largest JWKS body read, in bytes (1 MiB): a set of dozens of RSA keys with certificate chains is far smaller. */
export const JWKS_MAX_BYTES = 1024 * 1024;

/** Limits of one JWKS fetch. */
export interface JwksFetchLimits {
  /** Deadline of the whole fetch (connect, headers and body), ms. */
  timeoutMs: number;
  /** Largest body read; a longer one is abandoned and its connection closed. */
  maxBytes: number;
}

/**
 * The parsed JSON of the JWKS at `url`: one GET, redirects not followed, 200 only.
 * @throws JwksUnavailableError for any other answer, a timeout, a connection error, a body over `maxBytes`
 * (declared or streamed) or a body that is not JSON.
 */
export async function fetchJwks(url: string, limits: JwksFetchLimits): Promise<unknown> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let text: string;
  try {
    const { statusCode, headers, body } = await request(url, {
      method: 'GET',
      headers: { accept: 'application/json, application/jwk-set+json' },
      signal,
    });
    if (statusCode !== 200) {
      abandon(body);
      throw new JwksUnavailableError(`The issuer JWKS answered HTTP ${statusCode}, expected 200`);
    }
    text = await readCapped(body, Number(headers['content-length']), limits.maxBytes);
  } catch (error) {
    if (error instanceof JwksUnavailableError) throw error;
    if (signal.aborted) {
      throw new JwksUnavailableError(`The issuer JWKS did not answer within ${limits.timeoutMs} ms`, {
        timedOut: true,
        cause: error,
      });
    }
    throw new JwksUnavailableError('The issuer JWKS could not be reached', { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new JwksUnavailableError('The issuer JWKS is not JSON', { cause: error });
  }
}

/** Closes the connection of a body left unread; undici reports that as an abort, which nobody needs to hear. */
function abandon(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

async function readCapped(
  body: Dispatcher.ResponseData['body'],
  declaredBytes: number,
  maxBytes: number,
): Promise<string> {
  const tooLarge = () => new JwksUnavailableError(`The issuer JWKS is larger than ${maxBytes} bytes`);
  if (declaredBytes > maxBytes) {
    abandon(body);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
