/** Name of the Passport strategy: `AuthGuard('v3-token')`. */
export const V3_TOKEN_STRATEGY = 'v3-token';

/** Metadata key set by `@Public()`. */
export const IS_PUBLIC_KEY = 'v3-token-auth:isPublic';

/** Injection token of the validated options with defaults applied. Internal: not exported from the package. */
export const V3_TOKEN_AUTH_RESOLVED_OPTIONS = Symbol('V3_TOKEN_AUTH_RESOLVED_OPTIONS');
