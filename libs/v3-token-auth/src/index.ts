export * from './v3-token.interfaces.js';
export type * from './v3-token-auth.options.js';
export type * from './v3-token-auth.observer.js';
export * from './v3-token.exceptions.js';
export { V3_TOKEN_STRATEGY, IS_PUBLIC_KEY } from './v3-token.constants.js';
export { V3TokenAuthModule } from './v3-token-auth.module.js';
export { V3TokenAuthOptionsError } from './v3-token-auth.config.js';
export { V3TokenService } from './v3-token.service.js';
export { V3TokenStrategy } from './v3-token.strategy.js';
export { V3TokenAuthGuard } from './v3-token-auth.guard.js';
export { Public } from './public.decorator.js';
export { CurrentClient } from './current-client.decorator.js';
export {
  parseAuthorization,
  parseBasicAuthorization,
  type ParsedAuthorization,
} from './authorization-header.parser.js';
export { TokenStore, type CachedToken, type ThrottleState, type TokenLock } from './token-store.interface.js';
export { MemoryTokenStore } from './memory-token.store.js';
export { RedisTokenStore, TokenStoreUnavailableError } from './redis-token.store.js';
export { TokenSealer, parseEncryptionKeys } from './token-sealer.js';
export { V3TokenClient, type V3GrantRequest, type V3TokenClientOptions } from './v3-token.client.js';
export { parseV3TokenResponse } from './v3-token-response.parser.js';
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
