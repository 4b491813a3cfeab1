export * from './v3-token.interfaces.js';
export type * from './module/v3-token-auth.options.js';
export type * from './module/v3-token-auth.observer.js';
export * from './v3-token.exceptions.js';
export { V3_TOKEN_STRATEGY, IS_PUBLIC_KEY } from './v3-token.constants.js';
export { V3TokenAuthModule } from './module/v3-token-auth.module.js';
export { V3TokenAuthOptionsError } from './module/v3-token-auth.config.js';
export { V3TokenService, type V3TokenAuthHealth } from './core/v3-token.service.js';
export { systemClock, type V3Clock } from './core/clock.js';
export { normalizeScope } from './core/token-scope.js';
export { V3TokenStrategy } from './auth/passport/v3-token.strategy.js';
export { V3TokenAuthGuard } from './auth/v3-token-auth.guard.js';
export { Public } from './auth/public.decorator.js';
export { CurrentClient } from './auth/current-client.decorator.js';
export {
  parseAuthorization,
  parseBasicAuthorization,
  type ParsedAuthorization,
} from './auth/authorization-header.parser.js';
export {
  TokenStore,
  type CachedToken,
  type CountWindow,
  type ReauthWindowState,
  type ThrottleState,
  type TombstoneListener,
  type TokenLock,
} from './store/token-store.interface.js';
export { MemoryTokenStore } from './store/memory/memory-token.store.js';
export { RedisTokenStore, TokenStoreUnavailableError } from './store/redis/redis-token.store.js';
export { TokenSealer, parseEncryptionKeys } from './store/token-sealer.js';
export { V3TokenClient, type V3GrantRequest, type V3TokenClientOptions } from './issuer/v3-token.client.js';
export { TokenEndpointError, type TokenEndpointErrorKind } from './issuer/token-endpoint.error.js';
export { IssuerQueueFullError } from './issuer/issuer-queue-full.error.js';
export { parseV3TokenResponse } from './issuer/v3-token-response.parser.js';
export { V3JwtVerifier, looksLikeJwt, grantedScopes, type V3JwtPrincipal } from './jwt/v3-jwt.verifier.js';
export { V3InvalidTokenException } from './jwt/v3-invalid-token.exception.js';
export {
  V3_JWT_ASYMMETRIC_ALGORITHMS,
  type V3JwtOptions,
  type V3JwtAlgorithm,
} from './jwt/v3-jwt.options.js';
export { RequireScopes, REQUIRED_SCOPES_KEY } from './scopes/require-scopes.decorator.js';
export { missingScopes, toScopeSet, type GrantedScopes } from './scopes/scope-check.js';
export {
  V3InsufficientScopeException,
  type V3InsufficientScopeBody,
} from './scopes/v3-insufficient-scope.exception.js';
export { registeredTracer, V3_TOKEN_AUTH_TRACER } from './tracing/token-spans.js';
