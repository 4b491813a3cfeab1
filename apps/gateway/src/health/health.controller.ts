import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { V3TokenService } from 'nestjs-v3-token-auth';
import { IssuerReachability } from './issuer-reachability.js';

/** How long `GET /health` waits for Redis to answer a ping before calling it down, ms. */
const HEALTH_PING_TIMEOUT_MS = 300;

/**
 * `GET /health`: 200 while the gateway can serve. A Redis outage (the gateway keeps serving from its in-process
 * cache; a Redis that does not answer a ping in 300 ms counts as down), an issuer circuit that is not closed and a
 * token endpoint the probe did not find (cached tokens keep working) are reported as `degraded`, not as failures.
 * The `issuer` entry holds the breaker's `state` and the probe's `endpoint` (`reachable`, `unreachable`,
 * `unexpected`, `unknown` before the first probe). Without Redis the body has no `redis` entry.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly tokens: V3TokenService,
    private readonly reachability: IssuerReachability,
  ) {}

  @Get()
  @HealthCheck()
  async check(): Promise<HealthCheckResult> {
    const { store } = await this.tokens.checkHealth(HEALTH_PING_TIMEOUT_MS);
    const redis = () => {
      const indicator = this.indicators.check('redis');
      return store === 'down' ? indicator.degraded({ state: store }) : indicator.up({ state: store });
    };
    return this.health.check([
      ...(store === 'memory' ? [] : [redis]),
      () => {
        const state = this.tokens.health().issuer;
        const { reachability: endpoint, detail } = this.reachability.current;
        this.reachability.refreshIfStale();
        const issuer = this.indicators.check('issuer');
        const details: Record<string, string> =
          detail === undefined ? { state, endpoint } : { state, endpoint, detail };
        const found = endpoint === 'reachable' || endpoint === 'unknown';
        return state === 'closed' && found ? issuer.up(details) : issuer.degraded(details);
      },
    ]);
  }
}
