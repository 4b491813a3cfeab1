import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { GatewayLifecycle } from '../lifecycle/gateway-lifecycle.js';

/** Body of the liveness and readiness probes. */
export interface ProbeBody {
  status: 'ok' | 'shutting_down';
}

/**
 * Kubernetes-style probes beside `GET /health`: `GET /health/live` is 200 while the process runs its event loop;
 * `GET /health/ready` is 200 until SIGTERM, then 503 at once while in-flight requests drain.
 */
@Controller('health')
export class HealthProbesController {
  constructor(private readonly lifecycle: GatewayLifecycle) {}

  @Get('live')
  @HttpCode(200)
  live(): ProbeBody {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(200)
  ready(): ProbeBody {
    if (this.lifecycle.draining) {
      throw new ServiceUnavailableException('The gateway is shutting down and takes no new traffic');
    }
    return { status: 'ok' };
  }
}
