import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { SampleApiController } from './sample-api.controller.js';
import { SandboxIssuerService } from './sandbox-issuer.service.js';
import { ConfigurableSandboxModule } from './sandbox.module-definition.js';
import { TokenController } from './token.controller.js';

/**
 * The local stand-in for the V3 platform: a Keycloak-shaped token endpoint and a sample API that accepts the
 * bearer tokens it issued.
 * @example SandboxModule.forRoot({ clients: { 'demo-client': 'demo-secret' }, users: {}, tokenLifetimeSeconds: 300, refreshLifetimeSeconds: 1800 })
 */
@Module({
  controllers: [TokenController, SampleApiController, HealthController],
  providers: [SandboxIssuerService],
  exports: [SandboxIssuerService],
})
export class SandboxModule extends ConfigurableSandboxModule {}
