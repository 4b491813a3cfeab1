import { Body, Controller, Header, Headers, HttpCode, Post } from '@nestjs/common';
import { V3TokenService, type V3TokenResponse } from 'nestjs-v3-token-auth';
import { parseTokenRequest } from './token-request.parser.js';

/**
 * `POST /token`: the V3 token endpoint, cached. Takes a `V3TokenRequest` as a form or JSON, with client credentials
 * in the body or a Basic header, and answers a `V3TokenResponse` whose `expires_in` is the token's remaining
 * lifetime. Errors are OAuth 2.0 JSON (see `GatewayExceptionFilter`). Public.
 */
@Controller('token')
export class TokenController {
  constructor(private readonly tokens: V3TokenService) {}

  @Post()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async issue(
    @Body() body: unknown,
    @Headers('authorization') authorization?: string,
  ): Promise<V3TokenResponse> {
    return this.tokens.issueToken(parseTokenRequest(body, authorization));
  }
}
