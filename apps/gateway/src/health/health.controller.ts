import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { V3TokenService } from 'nestjs-v3-token-auth';

/**
 * `GET /health`: 200 while the gateway can serve. A Redis outage (the gateway keeps serving from its in-process
 * cache) and an open issuer circuit (cached tokens keep working) are reported as `degraded`, not as failures.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly tokens: V3TokenService,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => {
        const state = this.tokens.health().store;
        const redis = this.indicators.check('redis');
        return state === 'down' ? redis.degraded({ state }) : redis.up({ state });
      },
      () => {
        const state = this.tokens.health().issuer;
        const issuer = this.indicators.check('issuer');
        return state === 'closed' ? issuer.up({ state }) : issuer.degraded({ state });
      },
    ]);
  }
}
