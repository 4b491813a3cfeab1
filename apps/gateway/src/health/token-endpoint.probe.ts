import { Agent, request, type Dispatcher } from 'undici';

/** What the token endpoint looked like when last asked. */
export type TokenEndpointReachability = 'unknown' | 'reachable' | 'unreachable' | 'unexpected';

/** The outcome of one probe. */
export interface TokenEndpointProbeResult {
  /** `reachable`: it answered a credential-less grant with an OAuth error (400 or 401, JSON with `error`). */
  reachability: Exclude<TokenEndpointReachability, 'unknown'>;
  /** Why it is not reachable, in words (`ECONNREFUSED`, `answered 404 …`); never a secret. */
  detail?: string;
}

const BODY_LIMIT = 16 * 1024;

function failureOf(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_ABORTED')
    return 'no answer in time';
  if (typeof code === 'string') return code;
  return typeof message === 'string' ? message : String(error);
}

/** Whether `body` is JSON with a string `error` (RFC 6749 §5.2), reading at most 16 KiB of it. */
async function isOAuthError(body: Dispatcher.ResponseData['body']): Promise<boolean> {
  let text = '';
  for await (const chunk of body as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > BODY_LIMIT) return false;
  }
  try {
    const parsed = JSON.parse(text) as { error?: unknown } | null;
    return typeof parsed?.error === 'string';
  } catch {
    return false;
  }
}

/**
 * Asks `tokenUrl` a grant with no credentials (`grant_type=client_credentials` alone), which a token endpoint refuses
 * with an OAuth error (RFC 6749 §5.2: 400 or 401, JSON with `error`): that answer means it is there. No answer within `timeoutMs` (refused, unresolvable, hung)
 * is `unreachable`; any other answer (a 404 page, a 5xx, a 2xx) is `unexpected`. Never throws.
 * @example await probeTokenEndpoint('http://127.0.0.1:1/token', 1000) // { reachability: 'unreachable', detail: 'ECONNREFUSED' }
 */
export async function probeTokenEndpoint(
  tokenUrl: string,
  timeoutMs: number,
): Promise<TokenEndpointProbeResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  // A connection of its own, closed after: the probe leaves no keep-alive socket behind.
  const dispatcher = new Agent({ connections: 1 });
  try {
    const { statusCode, body } = await request(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal,
      dispatcher,
    });
    const refusedAsOAuth = (statusCode === 400 || statusCode === 401) && (await isOAuthError(body));
    await body.dump();
    if (refusedAsOAuth) return { reachability: 'reachable' };
    return {
      reachability: 'unexpected',
      detail: `answered ${statusCode} without an OAuth error — is it the token endpoint?`,
    };
  } catch (error) {
    return { reachability: 'unreachable', detail: signal.aborted ? 'no answer in time' : failureOf(error) };
  } finally {
    await dispatcher.destroy();
  }
}
