import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { V3TokenAuthModule, type V3TokenAuthModuleOptions } from 'nestjs-v3-token-auth';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway.config.js';
import { GatewayExceptionFilter } from './errors/gateway-exception.filter.js';
import { HealthProbesController } from './health/health-probes.controller.js';
import { HealthController } from './health/health.controller.js';
import { IssuerReachability } from './health/issuer-reachability.js';
import { GatewayLifecycle } from './lifecycle/gateway-lifecycle.js';
import { gatewayLoggerParams } from './logging/logger.options.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RevokeController } from './token/revoke.controller.js';
import { TokenController } from './token/token.controller.js';

/** Maps the gateway's configuration to the token module's options; `observer` feeds the Prometheus metrics. */
export function toTokenAuthOptions(
  config: GatewayConfig,
  observer: GatewayMetrics,
): V3TokenAuthModuleOptions {
  return {
    tokenUrl: config.tokenUrl,
    grantType: config.grantType,
    clientAuthMethod: config.clientAuthMethod,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redis: config.redis,
    hmacKey: config.hmacKey,
    encryptionKeys: config.encryptionKeys,
    expirySkewSeconds: config.expirySkewSeconds,
    memoryCache: config.memoryCache,
    timeoutMs: config.tokenTimeoutMs,
    scope: config.scope,
    retry: config.retryAttempts === undefined ? undefined : { attempts: config.retryAttempts },
    circuitBreaker:
      config.breakerFailureThreshold === undefined && config.breakerResetTimeoutMs === undefined
        ? undefined
        : {
            failureThreshold: config.breakerFailureThreshold,
            resetTimeoutMs: config.breakerResetTimeoutMs,
          },
    keyPrefix: config.keyPrefix,
    memoryCacheMaxEntries: config.memoryCacheMaxEntries,
    refreshAheadRatio: config.refreshAheadRatio,
    lockLeaseMs: config.lockLeaseMs,
    lockWaitMs: config.lockWaitMs,
    maxFailedAttempts: config.maxFailedAttempts,
    failedAttemptsWindowMs: config.failedAttemptsWindowMs,
    invalidCredentialsTtlMs: config.invalidCredentialsTtlMs,
    knownGoodTtlMs: config.knownGoodTtlMs,
    connections: config.tokenMaxConcurrency,
    issuerQueueSize: config.tokenQueueSize,
    issuerQueueWaitMs: config.tokenQueueWaitMs,
    coldGrantsPerAddressPerMinute: config.coldGrantsPerAddressPerMinute,
    reauthCooldownMs: config.reauthCooldownMs,
    jwt: config.jwt,
    revocationUrl: config.revocationUrl,
    observer,
  };
}

const gatewayConfig = (config: ConfigService): GatewayConfig =>
  config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);

/**
 * The gateway: `POST /token`, `GET /health`, `GET /metrics` and (registered by `createGatewayApp`) the proxy of
 * every `GATEWAY_ROUTES` prefix. `configModule` is `gatewayConfigModule()` (the validated environment) or holds a
 * given `GatewayConfig`.
 */
@Module({})
export class GatewayModule {
  static forRoot(configModule: DynamicModule): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        configModule,
        LoggerModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService) => gatewayLoggerParams(gatewayConfig(config)),
        }),
        MetricsModule,
        TerminusModule.forRoot({ logger: false }),
        V3TokenAuthModule.forRootAsync({
          imports: [MetricsModule],
          inject: [ConfigService, GatewayMetrics],
          useFactory: (config: ConfigService, metrics: GatewayMetrics) =>
            toTokenAuthOptions(gatewayConfig(config), metrics),
          isGlobal: true,
        }),
      ],
      controllers: [TokenController, RevokeController, HealthController, HealthProbesController],
      providers: [
        { provide: APP_FILTER, useClass: GatewayExceptionFilter },
        GatewayLifecycle,
        IssuerReachability,
      ],
    };
  }
}
