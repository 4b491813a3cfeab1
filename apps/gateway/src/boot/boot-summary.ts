import type { GatewayConfig } from '../config/gateway.config.js';

/** A Redis URL with any password (and user name) replaced, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username && !parsed.password) parsed.username = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Where tokens are cached, in words: `memory`, a redacted Redis URL, `cluster …` or `sentinel …`. */
export function describeStore(config: Pick<GatewayConfig, 'redis'>): string {
  const redis = config.redis;
  if (redis?.url) return redactRedisUrl(redis.url);
  if (redis?.clusterNodes?.length) return `redis cluster ${redis.clusterNodes.join(',')}`;
  if (redis?.sentinel)
    return `redis sentinel ${redis.sentinel.name} via ${redis.sentinel.sentinels.join(',')}`;
  return 'memory (in process)';
}

/**
 * The one line the gateway logs once it listens: where, which token endpoint, which store, which routes, and
 * whether tokens are sealed at rest. Holds no secret.
 * @example describeGateway(config) // 'listening on http://0.0.0.0:3000; token URL http://…; store memory …'
 */
export function describeGateway(config: GatewayConfig): string {
  const admin = config.edge.adminPort === undefined ? '' : ` (admin on port ${config.edge.adminPort})`;
  const routes = config.routes.map((route) => `${route.prefix} -> ${route.target}`).join(', ') || 'none';
  const sealing = config.encryptionKeys?.length ? 'on' : 'off';
  return (
    `listening on http://${config.host}:${config.port}${admin}; token URL ${config.tokenUrl}; ` +
    `store ${describeStore(config)}; routes ${routes}; sealing ${sealing}`
  );
}
