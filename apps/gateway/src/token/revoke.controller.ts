import { Body, Controller, Header, Headers, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { V3TokenService } from 'nestjs-v3-token-auth';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config.js';
import type { TrustedProxies } from '../proxy/caller-address.js';
import { parseRevocationRequest } from './revocation-request.parser.js';

/**
 * `POST /revoke`: token revocation (RFC 7009). The client authenticates as for `POST /token` (Basic or
 * `client_id`/`client_secret`, through the same wrong-secret throttle); a token the gateway handed out to it is then
 * evicted on every instance and refused from then on, and the revocation is passed on to `V3_REVOCATION_URL` when
 * set. 200 with an empty body whether or not the token was known (§2.2); another client's token is left alone.
 * Without client authentication, 401 `invalid_client`.
 */
@Controller('revoke')
export class RevokeController {
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
  async revoke(
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Headers('authorization') authorization?: string,
  ): Promise<void> {
    const revocation = parseRevocationRequest(body, authorization);
    const callerAddress = this.trustedProxies.callerAddressOf(
      request.raw.socket.remoteAddress,
      request.headers,
    );
    await this.tokens.revoke(revocation.token, revocation.client, {
      tokenTypeHint: revocation.tokenTypeHint,
      callerAddress,
    });
  }
}
