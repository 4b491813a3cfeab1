/**
 * What the sandbox issues and to whom. Passed to `SandboxModule.forRoot()`; `sandbox.config.ts` builds it from the
 * environment, tests build it directly.
 * @example { clients: { 'demo-client': 'demo-secret' }, users: { jdoe: 'password' }, tokenLifetimeSeconds: 300, refreshLifetimeSeconds: 1800 }
 */
export interface SandboxOptions {
  /** Registered clients, client id → client secret. */
  clients: Record<string, string>;
  /** Users the password grant accepts, username → password. */
  users: Record<string, string>;
  /** Seconds an access token lives (`expires_in`). `0` issues tokens that are already expired. */
  tokenLifetimeSeconds: number;
  /** Seconds a refresh token lives (`refresh_expires_in`). */
  refreshLifetimeSeconds: number;
  /** HS256 key the tokens are signed with. Default: 32 random bytes, new on every boot. */
  jwtSecret?: string;
  /**
   * When set, only `/realms/<realm>/protocol/openid-connect/token` answers; other realms get 404 as Keycloak does.
   * Default: any realm name is accepted.
   */
  realm?: string;
  /** Clock in epoch milliseconds, for tests. Default: `Date.now`. */
  clock?: () => number;
}
