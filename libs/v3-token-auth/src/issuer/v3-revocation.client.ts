import { request, type Dispatcher } from 'undici';
import {
  V3BadRequestException,
  V3InvalidCredentialsException,
  V3IssuerUnavailableException,
} from '../v3-token.exceptions.js';
import type { V3ClientAuthMethod } from '../v3-token.interfaces.js';

/** One revocation to pass on (RFC 7009 §2.1). The secret is sent to the revocation endpoint only. */
export interface V3RevocationRequest {
  token: string;
  tokenTypeHint?: string;
  clientId: string;
  clientSecret: string;
}

/** Options of `V3RevocationClient`. */
export interface V3RevocationClientOptions {
  /** The issuer's revocation endpoint, e.g. Keycloak's `…/protocol/openid-connect/revoke`. */
  revocationUrl: string;
  /** How client credentials are sent (RFC 6749 §2.3.1). @default 'client_secret_post' */
  clientAuthMethod?: V3ClientAuthMethod;
  /** Deadline of the call (connect, headers and body), ms. @default 5000 */
  timeoutMs?: number;
}

const MAX_ERROR_BYTES = 8 * 1024;

function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

async function oauthErrorOf(body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  try {
    const text = await body.text();
    if (text.length > MAX_ERROR_BYTES) return undefined;
    const parsed: unknown = JSON.parse(text);
    const error = (parsed as { error?: unknown } | null)?.error;
    return typeof error === 'string' && /^[\x20-\x7e]{1,64}$/.test(error) ? error : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Passes a revocation on to the issuer's RFC 7009 endpoint, with the caller's client credentials.
 * @throws V3IssuerUnavailableException on 503/5xx, timeouts and connection errors (RFC 7009 §2.2.1).
 * @throws V3BadRequestException for the issuer's 400 (`unsupported_token_type`, `invalid_request`).
 * @throws V3InvalidCredentialsException when the issuer refuses the client.
 * @example await new V3RevocationClient({ revocationUrl }).revoke({ token, clientId, clientSecret })
 */
export class V3RevocationClient {
  private readonly clientAuthMethod: V3ClientAuthMethod;
  private readonly timeoutMs: number;

  constructor(private readonly options: V3RevocationClientOptions) {
    this.clientAuthMethod = options.clientAuthMethod ?? 'client_secret_post';
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async revoke(revocation: V3RevocationRequest): Promise<void> {
    const form = new URLSearchParams({ token: revocation.token });
    if (revocation.tokenTypeHint) form.set('token_type_hint', revocation.tokenTypeHint);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (this.clientAuthMethod === 'client_secret_basic') {
      const pair = `${formEncode(revocation.clientId)}:${formEncode(revocation.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    } else {
      form.set('client_id', revocation.clientId);
      form.set('client_secret', revocation.clientSecret);
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(this.options.revocationUrl, {
        method: 'POST',
        headers,
        body: form.toString(),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      throw new V3IssuerUnavailableException('The revocation endpoint could not be reached; retry shortly');
    }
    const status = response.statusCode;
    if (status === 200) {
      await response.body.dump();
      return;
    }
    const oauthError = await oauthErrorOf(response.body);
    if (status === 401 || oauthError === 'invalid_client') {
      throw new V3InvalidCredentialsException(status, oauthError ?? 'invalid_client');
    }
    if (status >= 400 && status < 500 && status !== 429) {
      throw new V3BadRequestException(
        `The revocation endpoint refused the request (${oauthError ?? `HTTP ${status}`})`,
        oauthError ?? 'invalid_request',
      );
    }
    throw new V3IssuerUnavailableException(
      `The revocation endpoint is unavailable (HTTP ${status}); retry shortly`,
    );
  }
}
