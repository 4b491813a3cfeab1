import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { IncomingHttpHeaders } from 'node:http';
import { V3_TOKEN_STRATEGY } from '../../v3-token.constants.js';
import type { V3Principal } from '../../v3-token.interfaces.js';
import { V3TokenService } from '../../core/v3-token.service.js';

interface StrategyRequest {
  headers: IncomingHttpHeaders;
}

/**
 * The `v3-token` Passport strategy: `Authorization: Basic` client credentials (or username:password under the
 * password grant) and `Authorization: Bearer` tokens this module handed out. Works on Express and Fastify requests.
 * Passport keeps one strategy per name per process: with several Nest apps in one process, `AuthGuard('v3-token')`
 * uses the last app's service, while `V3TokenAuthGuard` always uses its own module's.
 */
@Injectable()
export class V3TokenStrategy extends PassportStrategy(Strategy, V3_TOKEN_STRATEGY) {
  constructor(private readonly tokens: V3TokenService) {
    super();
  }

  validate(request: StrategyRequest): Promise<V3Principal> {
    return this.tokens.authenticate(request.headers.authorization);
  }
}
