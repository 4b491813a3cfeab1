import { Inject, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import { RedisTokenStore } from '../store/redis/redis-token.store.js';
import { TokenFingerprinter } from '../core/token-fingerprint.js';
import { TokenSealer } from '../store/token-sealer.js';
import { TokenStore } from '../store/token-store.interface.js';
import { resolveV3TokenAuthOptions, type ResolvedV3TokenAuthOptions } from './v3-token-auth.config.js';
import {
  V3TokenAuthConfigurableModule,
  V3_TOKEN_AUTH_MODULE_OPTIONS,
} from './v3-token-auth.module-definition.js';
import type { V3TokenAuthModuleOptions } from './v3-token-auth.options.js';
import { V3TokenAuthGuard } from '../auth/v3-token-auth.guard.js';
import { V3TokenClient } from '../issuer/v3-token.client.js';
import { V3_TOKEN_AUTH_RESOLVED_OPTIONS } from '../v3-token.constants.js';
import { V3TokenService } from '../core/v3-token.service.js';
import { V3TokenStrategy } from '../auth/passport/v3-token.strategy.js';

const STORE_READY_TIMEOUT_MS = 2000;

async function createStore(options: ResolvedV3TokenAuthOptions): Promise<TokenStore> {
  if (options.store) return options.store;
  if (options.redis) {
    if (options.hmacKey === undefined) {
      new Logger('V3TokenAuth').warn(
        'Redis is configured without hmacKey: each instance keys the cache with its own random key, so instances ' +
          'share no token, lock or throttle count. Set the same hmacKey (TOKEN_CACHE_HMAC_KEY) on every instance.',
      );
    }
    return RedisTokenStore.create({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      sealer: options.encryptionKeys?.length ? new TokenSealer(options.encryptionKeys) : undefined,
      observer: options.observer,
    });
  }
  return new MemoryTokenStore({ maxEntries: options.memoryCacheMaxEntries });
}

/**
 * The V3 token grant as the Passport strategy `v3-token`, with a per-client token cache (in process, or Redis).
 * @example
 * V3TokenAuthModule.forRoot({ tokenUrl: 'https://issuer.example/token', redis: { url: 'redis://localhost:6379' }, hmacKey })
 */
@Module({
  imports: [PassportModule],
  providers: [
    {
      provide: V3_TOKEN_AUTH_RESOLVED_OPTIONS,
      inject: [V3_TOKEN_AUTH_MODULE_OPTIONS],
      useFactory: (options: V3TokenAuthModuleOptions) => resolveV3TokenAuthOptions(options),
    },
    { provide: TokenStore, inject: [V3_TOKEN_AUTH_RESOLVED_OPTIONS], useFactory: createStore },
    {
      provide: V3TokenClient,
      inject: [V3_TOKEN_AUTH_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedV3TokenAuthOptions) =>
        new V3TokenClient({
          tokenUrl: options.tokenUrl,
          clientAuthMethod: options.clientAuthMethod,
          timeoutMs: options.timeoutMs,
          connections: options.connections,
          queueSize: options.issuerQueueSize,
          queueWaitMs: options.issuerQueueWaitMs,
          retry: options.retry,
          circuitBreaker: options.circuitBreaker,
          observer: options.observer,
          now: options.clock ? () => options.clock!.now() : undefined,
        }),
    },
    {
      provide: TokenFingerprinter,
      inject: [V3_TOKEN_AUTH_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedV3TokenAuthOptions) =>
        new TokenFingerprinter(options.hmacKey, options.tokenUrl),
    },
    V3TokenService,
    V3TokenStrategy,
    V3TokenAuthGuard,
  ],
  exports: [V3TokenService, V3TokenAuthGuard, TokenStore],
})
export class V3TokenAuthModule
  extends V3TokenAuthConfigurableModule
  implements OnModuleInit, OnApplicationShutdown
{
  constructor(
    @Inject(V3_TOKEN_AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedV3TokenAuthOptions,
    @Inject(TokenStore) private readonly store: TokenStore,
    private readonly client: V3TokenClient,
  ) {
    super();
  }

  /** Gives a shared store a moment to connect, so the first requests use it; never fails boot. */
  async onModuleInit(): Promise<void> {
    await this.store.waitUntilReady?.(STORE_READY_TIMEOUT_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
    if (!this.options.store) await this.store.close();
  }
}
