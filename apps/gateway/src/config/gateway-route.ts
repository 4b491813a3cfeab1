/**
 * One proxied route: requests under `prefix` go to `target` (the full original path is kept), authorized by the
 * route's policy. `GATEWAY_ROUTES` gives prefix and target (authentication only); `GATEWAY_ROUTES_FILE` gives every
 * field.
 */
export interface GatewayRoute {
  /** `/v3`: matches `/v3` and `/v3/...`, never `/v3x`. */
  prefix: string;
  /** The downstream base URL, without a trailing slash. */
  target: string;
  /**
   * Scopes a token must carry, all of them (403 `insufficient_scope` otherwise). A Basic caller's grant for this
   * route asks for exactly these. `[]`: any authenticated caller.
   */
  scopes: readonly string[];
  /** RFC 8707 `resource` sent when granting for this route; part of the token's cache identity. */
  audience?: string;
  /** `true`: no authentication, and no `Authorization` relayed downstream. */
  public: boolean;
  /** Upstream timeout of this route, ms; unset: `GATEWAY_UPSTREAM_TIMEOUT_MS`. */
  timeoutMs?: number;
}
