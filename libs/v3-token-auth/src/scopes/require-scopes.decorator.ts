import { SetMetadata } from '@nestjs/common';

/** Metadata key of `@RequireScopes()`: the scopes a route requires, all of them. */
export const REQUIRED_SCOPES_KEY = 'v3-token-auth:required-scopes';

/**
 * Requires every listed scope of the caller's token on a route or controller (the handler's list overrides the
 * controller's). `V3TokenAuthGuard` answers a token lacking one with 403 `insufficient_scope`.
 * @example @RequireScopes('orders:read') @Get('orders') list() {}
 */
export const RequireScopes = (...scopes: string[]) => SetMetadata(REQUIRED_SCOPES_KEY, scopes);
