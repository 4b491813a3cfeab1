import { Body, Controller, Header, Headers, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { V3TokenService, type V3TokenResponse } from 'nestjs-v3-token-auth';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config.js';
import type { TrustedProxies } from '../proxy/caller-address.js';
import { parseTokenRequest } from './token-request.parser.js';

/**
 * `POST /token`: the V3 token endpoint, cached. Takes a `V3TokenRequest` as a form or JSON, with client credentials
 * in the body or a Basic header, and answers a `V3TokenResponse` whose `expires_in` is the token's remaining
 * lifetime. Errors are OAuth 2.0 JSON (see `GatewayExceptionFilter`). Public. Every grant (refresh included) is
 * counted per client and per caller address (`GATEWAY_TRUSTED_PROXIES`) by the wrong-secret throttle.
 */
@Controller('token')
export class TokenController {
  private readonly trustedProxies: TrustedProxies;

  constructor(
    private readonly tokens: V3TokenService,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.trustedProxies = config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG).edge.trustedProxies;
  }

  @Post()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async issue(
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Headers('authorization') authorization?: string,
  ): Promise<V3TokenResponse> {
    const callerAddress = this.trustedProxies.callerAddressOf(
      request.raw.socket.remoteAddress,
      request.headers,
    );
    return this.tokens.issueToken(parseTokenRequest(body, authorization), { callerAddress });
  }
}
