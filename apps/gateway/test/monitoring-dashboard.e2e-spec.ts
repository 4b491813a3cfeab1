import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGatewayApp } from '../src/app.factory.js';
import { parseGatewayConfig } from '../src/config/gateway.config.js';
import { startTokenServer, type TokenServer } from '../../../test/support/token-server.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

const DASHBOARD = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'deploy',
  'grafana',
  'dashboards',
  'gateway.json',
);

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

/** Words of PromQL that are not metric names: functions and aggregations are told apart by their `(`. */
const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

/** The metric names a PromQL expression reads: strings, label matchers, ranges, label lists and calls removed. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const [, word, call] of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (call === undefined && !PROMQL_WORDS.has(word)) names.add(word);
  }
  return [...names];
}

/** The metric family a sample name belongs to (`x_bucket`, `x_count`, `x_sum` of a histogram `x`). */
function familyOf(name: string, declared: Set<string>): string | undefined {
  if (declared.has(name)) return name;
  const base = name.replace(/_(bucket|count|sum)$/, '');
  return declared.has(base) ? base : undefined;
}

describe('the Grafana dashboard queries only metrics the gateway exposes', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  let issuer: TokenServer;
  let echo: EchoServer;
  let app: NestFastifyApplication;
  let metrics: string;

  beforeAll(async () => {
    [issuer, echo] = await Promise.all([startTokenServer(), startEchoServer()]);
    app = await createGatewayApp(
      parseGatewayConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        V3_TOKEN_URL: issuer.tokenUrl,
        GATEWAY_ROUTES: `/echo=${echo.url}`,
      }),
    );
    app.useLogger(false);
    await app.listen(0, '127.0.0.1');
    const base = await app.getUrl();
    const authorization = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;
    for (const path of ['/echo/one', '/echo/two']) {
      expect((await fetch(`${base}${path}`, { headers: { authorization } })).status).toBe(200);
    }
    metrics = await (await fetch(`${base}/metrics`)).text();
  });

  afterAll(async () => {
    await app?.close();
    await Promise.all([issuer?.close(), echo?.close()]);
  });

  it('reads metric names out of PromQL', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(gateway_proxy_duration_seconds_bucket{route!="/x"}[5m]))) / on (route) group_left up',
      ).sort(),
    ).toEqual(['gateway_proxy_duration_seconds_bucket', 'up']);
  });

  it('has the panels an operator needs: requests/s, p99, grants, cache hit ratio, breaker state, throttles', () => {
    const uses = (title: RegExp, metric: string) => {
      const panel = dashboard.panels.find((candidate) => title.test(candidate.title));
      expect(panel?.targets?.flatMap((target) => metricNames(target.expr))).toContain(metric);
    };
    uses(/requests per second/i, 'gateway_proxy_duration_seconds_count');
    uses(/p99/i, 'gateway_proxy_duration_seconds_bucket');
    uses(/grants/i, 'v3_token_grants_total');
    uses(/hit ratio/i, 'v3_token_cache_misses_total');
    uses(/breaker/i, 'v3_token_breaker_state');
    uses(/throttled/i, 'v3_token_throttled_total');
  });

  it('every metric a panel queries is declared in GET /metrics, and has samples once traffic flowed', () => {
    const declared = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name));
    const sampled = new Set(
      [...metrics.matchAll(/^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/gm)].map(([, name]) => name),
    );
    const queried = new Set(
      dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((t) => metricNames(t.expr))),
    );
    expect(queried.size).toBeGreaterThanOrEqual(8);
    const undeclared = [...queried].filter((name) => familyOf(name, declared) === undefined);
    expect(undeclared).toEqual([]);
    // Labelled counters have no sample before their first event (store errors: no Redis here; throttles: no flood).
    const unsampled = [...queried].filter((name) => !sampled.has(name));
    expect(unsampled.sort()).toEqual(['v3_token_store_errors_total']);
  });
});
