import { Controller, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SandboxIssuerService, type SandboxTokenReply } from './sandbox-issuer.service.js';

/**
 * The token endpoint, at `POST /token` (the V3 platform's path) and at Keycloak's
 * `POST /realms/<realm>/protocol/openid-connect/token`. Accepts forms and JSON.
 */
@Controller()
export class TokenController {
  constructor(private readonly issuer: SandboxIssuerService) {}

  @Post('token')
  async token(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.answer(request, reply, baseUrl(request));
  }

  @Post('realms/:realm/protocol/openid-connect/token')
  async realmToken(
    @Param('realm') realm: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (!this.issuer.servesRealm(realm)) {
      await reply
        .status(404)
        .send({ error: 'Realm does not exist', error_description: 'Realm does not exist' });
      return;
    }
    await this.answer(request, reply, `${baseUrl(request)}/realms/${encodeURIComponent(realm)}`);
  }

  private async answer(request: FastifyRequest, reply: FastifyReply, issuer: string): Promise<void> {
    const answer: SandboxTokenReply = await this.issuer.handleTokenRequest({
      body: request.body,
      authorization: request.headers.authorization,
      issuer,
    });
    if (answer.kind === 'drop') {
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    await reply.status(answer.status).headers(answer.headers).send(answer.body);
  }
}

function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host || 'localhost'}`;
}
