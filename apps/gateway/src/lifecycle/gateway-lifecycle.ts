import { Injectable } from '@nestjs/common';

/**
 * Whether the gateway is shutting down. `beginShutdown()` turns `GET /health/ready` to 503 at once, so that a load
 * balancer stops sending traffic while in-flight requests drain.
 */
@Injectable()
export class GatewayLifecycle {
  private shuttingDown = false;

  /** True from the first `beginShutdown()` on. */
  get draining(): boolean {
    return this.shuttingDown;
  }

  /** Marks the gateway as shutting down; idempotent. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }
}
