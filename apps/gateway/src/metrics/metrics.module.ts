import { Module } from '@nestjs/common';
import { GatewayMetrics } from './gateway-metrics.js';
import { MetricsController } from './metrics.controller.js';

/** The gateway's Prometheus registry (`GatewayMetrics`) and `GET /metrics`. */
@Module({
  controllers: [MetricsController],
  providers: [GatewayMetrics],
  exports: [GatewayMetrics],
})
export class MetricsModule {}
