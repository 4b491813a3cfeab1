import autocannon, { type AutocannonRequest } from 'autocannon';
import { Pool } from 'undici';
import { findWrk, runWrk } from './wrk.js';

/** Load generator settings, the same for every configuration. */
export interface LoadSettings {
  connections: number;
  durationSeconds: number;
}

/** What one load generator run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** Runs autocannon (keep-alive connections, no pipelining) against `url`, cycling through `requests`. */
export async function runAutocannon(
  url: string,
  requests: AutocannonRequest[],
  settings: LoadSettings,
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections: settings.connections,
    duration: settings.durationSeconds,
    pipelining: 1,
    timeout: 10,
    requests,
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    meanMs: result.latency.average,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** A load generator: which one, and how to run it against a URL. */
export interface LoadGenerator {
  /** `wrk` or `autocannon`. */
  name: 'wrk' | 'autocannon';
  run(url: string, requests: AutocannonRequest[], settings: LoadSettings): Promise<LoadResult>;
}

/**
 * The load generator the bench measures with: wrk (C, one thread: light on a small machine) when it is on PATH,
 * else autocannon; `BENCH_LOAD=autocannon` (or `wrk`, which then must be installed) chooses. `locateWrk` finds the
 * wrk binary (default {@link findWrk}).
 */
export function chooseLoadGenerator(
  choice: string | undefined = process.env.BENCH_LOAD,
  locateWrk: () => string | undefined = findWrk,
): LoadGenerator {
  if (choice !== undefined && choice !== '' && choice !== 'wrk' && choice !== 'autocannon')
    throw new Error(`BENCH_LOAD must be "wrk" or "autocannon", got "${choice}"`);
  const wrk = choice === 'autocannon' ? undefined : locateWrk();
  if (choice === 'wrk' && !wrk)
    throw new Error('BENCH_LOAD=wrk, but there is no wrk on PATH (apt-get install wrk)');
  if (wrk) return { name: 'wrk', run: (url, requests, settings) => runWrk(wrk, url, requests, settings) };
  return { name: 'autocannon', run: runAutocannon };
}

/** Status codes of a batch of requests, and how long it took. */
export interface BatchResult {
  statuses: Record<string, number>;
  ok: number;
  durationMs: number;
}

function count(statuses: Record<string, number>, key: string): void {
  statuses[key] = (statuses[key] ?? 0) + 1;
}

/**
 * Sends `total` GET requests to `origin` + `path`, `concurrency` at a time; request `i` carries `headersFor(i)`.
 * Used for many distinct clients, where autocannon's per-connection request loop does not fit.
 */
export async function runBatch(
  origin: string,
  path: string,
  total: number,
  concurrency: number,
  headersFor: (index: number) => Record<string, string>,
): Promise<BatchResult> {
  const pool = new Pool(origin, { connections: concurrency, keepAliveTimeout: 30_000 });
  const statuses: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      try {
        const response = await pool.request({ method: 'GET', path, headers: headersFor(index) });
        await response.body.dump();
        count(statuses, String(response.statusCode));
      } catch (error) {
        count(statuses, error instanceof Error ? error.name : 'error');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const durationMs = performance.now() - started;
  await pool.close();
  return { statuses, ok: statuses['200'] ?? 0, durationMs };
}

/**
 * A cold stampede: `total` requests sent at once, spread evenly over `origins`, each on its own connection.
 */
export async function runStampede(
  origins: readonly string[],
  path: string,
  total: number,
  headers: Record<string, string>,
): Promise<BatchResult> {
  const perOrigin = Math.ceil(total / origins.length);
  const pools = origins.map(
    (origin) => new Pool(origin, { connections: perOrigin, keepAliveTimeout: 30_000 }),
  );
  const statuses: Record<string, number> = {};
  const started = performance.now();
  await Promise.all(
    Array.from({ length: total }, async (_, index) => {
      const pool = pools[index % pools.length];
      try {
        const response = await pool.request({ method: 'GET', path, headers });
        await response.body.dump();
        count(statuses, String(response.statusCode));
      } catch (error) {
        count(statuses, error instanceof Error ? error.name : 'error');
      }
    }),
  );
  const durationMs = performance.now() - started;
  await Promise.all(pools.map((pool) => pool.close()));
  return { statuses, ok: statuses['200'] ?? 0, durationMs };
}
