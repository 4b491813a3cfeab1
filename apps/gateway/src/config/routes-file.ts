import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isUnder } from '../proxy/route-prefixes.js';
import type { GatewayRoute } from './gateway-route.js';

/** A routes file that cannot be used, as one line naming the route (index and prefix) and the field. */
export class RoutesFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoutesFileError';
  }
}

/** The fields of one route, in the order the README lists them. */
const FIELDS = ['prefix', 'target', 'scopes', 'audience', 'public', 'timeoutMs'] as const;

const PREFIX = /^(\/[A-Za-z0-9._~-]+)+\/*$/;
/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const PREFIX_FIX = 'use a path of letters, digits and . _ ~ - segments, e.g. /orders';
const TARGET_FIX =
  'use the http(s) base URL of the downstream, without query or user info, e.g. http://orders:8080';
const SCOPES_FIX =
  'use a list of scope names, e.g. ["orders:read"] (printable ASCII without spaces, " or \\), or [] for any authenticated caller';
const AUDIENCE_FIX = 'use an absolute URI without fragment (RFC 8707 resource), e.g. https://orders.example';
const PUBLIC_FIX = 'use true (no authentication, no Authorization relayed) or false';
const TIMEOUT_FIX = 'use whole milliseconds from 1 to 600000';

function isDownstreamUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.hostname !== '' &&
      url.username === '' &&
      url.password === '' &&
      url.search === '' &&
      url.hash === ''
    );
  } catch {
    return false;
  }
}

function isResourceUri(value: string): boolean {
  try {
    return new URL(value).hash === '' && !value.includes('#');
  } catch {
    return false;
  }
}

const routeSchema = z
  .strictObject({
    prefix: z.string({ message: PREFIX_FIX }).trim().regex(PREFIX, { message: PREFIX_FIX }),
    target: z.string({ message: TARGET_FIX }).trim().refine(isDownstreamUrl, { message: TARGET_FIX }),
    scopes: z.array(z.string({ message: SCOPES_FIX }).regex(SCOPE_TOKEN, { message: SCOPES_FIX }), {
      message: SCOPES_FIX,
    }),
    audience: z.string({ message: AUDIENCE_FIX }).refine(isResourceUri, { message: AUDIENCE_FIX }).optional(),
    public: z.boolean({ message: PUBLIC_FIX }).default(false),
    timeoutMs: z
      .number({ message: TIMEOUT_FIX })
      .int({ message: TIMEOUT_FIX })
      .min(1, { message: TIMEOUT_FIX })
      .max(600_000, { message: TIMEOUT_FIX })
      .optional(),
  })
  .partial({ scopes: true })
  .superRefine((route, ctx) => {
    if (route.public && route.scopes !== undefined && route.scopes.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['scopes'],
        message:
          'must be empty on a public route — public routes are not authenticated; drop scopes or public',
      });
    }
    if (route.public && route.audience !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['audience'],
        message: 'has no use on a public route — nothing is granted for it; drop audience or public',
      });
    }
    if (!route.public && route.scopes === undefined) {
      ctx.addIssue({ code: 'custom', path: ['scopes'], message: `is required — ${SCOPES_FIX}` });
    }
  });

const routesFileSchema = z.strictObject(
  {
    routes: z
      .array(routeSchema, {
        message:
          'is required — a list of routes, e.g. { "routes": [ { "prefix": "/orders", "target": "http://orders:8080", "scopes": ["orders:read"] } ] }',
      })
      .min(1, { message: 'is empty' }),
  },
  { message: 'must hold an object: { "routes": [ { "prefix": …, "target": …, "scopes": […] } ] }' },
);

type RouteEntry = z.infer<typeof routeSchema>;

/** `routes[1] (/orders)`: the route an issue belongs to, by index and, when it has one, prefix. */
function routeLabel(document: unknown, index: number): string {
  const routes = (document as { routes?: unknown } | null)?.routes;
  const prefix = Array.isArray(routes) ? (routes[index] as { prefix?: unknown } | null)?.prefix : undefined;
  return typeof prefix === 'string' ? `routes[${index}] (${prefix.trim()})` : `routes[${index}]`;
}

function fieldLabel(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue, document: unknown): string {
  const [top, index, ...field] = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const where = typeof index === 'number' ? `${routeLabel(document, index)}: ` : '';
    const allowed = where === '' ? 'routes' : FIELDS.join(', ');
    return `${where}unknown field ${issue.keys.map((key) => `"${key}"`).join(', ')} — the fields are ${allowed}`;
  }
  if (top === undefined) return issue.message;
  if (typeof index !== 'number') return `${String(top)} ${issue.message}`;
  return `${routeLabel(document, index)} ${fieldLabel(field)}: ${issue.message}`;
}

function toRoute(entry: RouteEntry): GatewayRoute {
  const url = new URL(entry.target);
  const route: GatewayRoute = {
    prefix: entry.prefix.replace(/\/+$/, ''),
    target: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    scopes: [...new Set(entry.scopes ?? [])],
    public: entry.public,
  };
  if (entry.audience !== undefined) route.audience = entry.audience;
  if (entry.timeoutMs !== undefined) route.timeoutMs = entry.timeoutMs;
  return route;
}

function parseDocument(text: string, fileName: string): unknown {
  const json = extname(fileName).toLowerCase() === '.json';
  try {
    return json ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]?.trim();
    throw new RoutesFileError(`is not valid ${json ? 'JSON' : 'YAML'}: ${reason}`);
  }
}

/**
 * Parses the text of a routes file (JSON when `fileName` ends in `.json`, else YAML) into routes. Throws
 * `RoutesFileError` naming the first problem: the route by index and prefix, and the field.
 * @example parseRoutesFile('{"routes":[{"prefix":"/orders","target":"http://orders:8080","scopes":[]}]}', 'r.json', [])
 */
export function parseRoutesFile(
  text: string,
  fileName: string,
  reservedPaths: readonly string[],
): GatewayRoute[] {
  const document = parseDocument(text, fileName);
  const parsed = routesFileSchema.safeParse(document);
  if (!parsed.success) throw new RoutesFileError(describeIssue(parsed.error.issues[0], document));
  const routes = parsed.data.routes.map(toRoute);
  routes.forEach((route, index) => {
    const label = `routes[${index}] (${route.prefix})`;
    const reserved = reservedPathOf(route.prefix, reservedPaths);
    if (reserved !== undefined) throw new RoutesFileError(`${label} prefix: ${reserved}`);
    const first = routes.findIndex((other) => other.prefix === route.prefix);
    if (first !== index) {
      throw new RoutesFileError(
        `${label} prefix: is already the prefix of routes[${first}]; list each prefix once`,
      );
    }
  });
  return routes;
}

/**
 * Why `prefix` may not be a route's: it is one of `reservedPaths` (served by the gateway itself) or lies under one
 * (`/health/ready` would hide the readiness probe); undefined when it may.
 */
export function reservedPathOf(prefix: string, reservedPaths: readonly string[]): string | undefined {
  const taken = reservedPaths.find((path) => isUnder(prefix, path));
  if (taken === undefined) return undefined;
  return taken === prefix
    ? `${prefix} is served by the gateway itself; pick another prefix`
    : `${prefix} lies under ${taken}, which the gateway serves itself; pick another prefix`;
}

/** Reads and parses the routes file at `path` (`GATEWAY_ROUTES_FILE`); `RoutesFileError` on any problem. */
export function loadRoutesFile(path: string, reservedPaths: readonly string[]): GatewayRoute[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new RoutesFileError(`cannot be read (${code}) — point it at a JSON or YAML routes file`);
  }
  return parseRoutesFile(text, path, reservedPaths);
}
