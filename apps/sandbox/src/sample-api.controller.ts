import { All, Controller, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SandboxIssuerService, SandboxTokenRejection } from './sandbox-issuer.service.js';

/** Request headers the sample API echoes; credentials and cookies never are. */
const ECHOED_HEADERS = new Set([
  'content-type',
  'accept',
  'user-agent',
  'x-request-id',
  'x-correlation-id',
  'forwarded',
]);

/** What `ALL /v3/*` answers to a caller with a valid bearer token. */
export interface SampleApiEcho {
  client_id: string;
  username?: string;
  method: string;
  path: string;
  query: unknown;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * A sample protected API: every method under `/v3` demands `Authorization: Bearer <token issued by this sandbox>`
 * and echoes the request back, so tests can see what a gateway relayed.
 */
@Controller('v3')
export class SampleApiController {
  constructor(private readonly issuer: SandboxIssuerService) {}

  @All()
  root(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<object> {
    return this.echo(request, reply);
  }

  @All('*')
  nested(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<object> {
    return this.echo(request, reply);
  }

  private async echo(request: FastifyRequest, reply: FastifyReply): Promise<object> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match?.[1]) return this.unauthorized(reply, 'A Bearer access token is required');
    try {
      const principal = await this.issuer.verifyAccessToken(match[1]);
      const echo: SampleApiEcho = {
        client_id: principal.clientId,
        method: request.method,
        path: request.url.split('?')[0] ?? request.url,
        query: request.query,
        headers: echoedHeaders(request),
        body: Buffer.isBuffer(request.body) ? request.body.toString('utf8') : (request.body ?? null),
      };
      if (principal.username !== undefined) echo.username = principal.username;
      return echo;
    } catch (error) {
      if (error instanceof SandboxTokenRejection) return this.unauthorized(reply, error.message);
      throw error;
    }
  }

  private unauthorized(reply: FastifyReply, description: string): object {
    void reply
      .status(401)
      .header('WWW-Authenticate', `Bearer error="invalid_token", error_description="${description}"`);
    return { error: 'invalid_token', error_description: description };
  }
}

function echoedHeaders(request: FastifyRequest): Record<string, string> {
  const echoed: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || !(ECHOED_HEADERS.has(name) || name.startsWith('x-forwarded-'))) continue;
    echoed[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return echoed;
}
