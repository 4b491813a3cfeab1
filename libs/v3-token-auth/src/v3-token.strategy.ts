import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { IncomingHttpHeaders } from 'node:http';
import { V3_TOKEN_SERVICE_OF_REQUEST, V3_TOKEN_STRATEGY } from './v3-token.constants.js';
import type { V3Principal } from './v3-token.interfaces.js';
import { V3TokenService } from './v3-token.service.js';

interface StrategyRequest {
  headers: IncomingHttpHeaders;
  [V3_TOKEN_SERVICE_OF_REQUEST]?: V3TokenService;
}

/**
 * The `v3-token` Passport strategy: `Authorization: Basic` client credentials (or username:password under the
 * password grant) and `Authorization: Bearer` tokens this module handed out. Works on Express and Fastify requests.
 */
@Injectable()
export class V3TokenStrategy extends PassportStrategy(Strategy, V3_TOKEN_STRATEGY) {
  constructor(private readonly tokens: V3TokenService) {
    super();
  }

  validate(request: StrategyRequest): Promise<V3Principal> {
    return (request[V3_TOKEN_SERVICE_OF_REQUEST] ?? this.tokens).authenticate(request.headers.authorization);
  }
}
