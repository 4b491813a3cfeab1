import type { LoadResult } from './load.js';

/** One autocannon run of one configuration. */
export interface RunSample extends LoadResult {
  /** Grants the token endpoint performed during the run. */
  grants: number;
  /** Redis keyspace hits during the run. */
  redisHits: number;
  /**
   * CPU time (user + system, all threads) the process serving the configuration spent per completed request, in µs;
   * NaN where `/proc` cannot be read.
   */
  serverCpuUsPerRequest: number;
  /** The private redis-server's CPU time per completed request, in µs; measured for the Redis-hit path only. */
  redisCpuUsPerRequest?: number;
  /** Indices among the baseline's runs of the baseline runs right before and after this one (`baselineNeighbours`). */
  baselineRuns?: number[];
}

/** A configuration's runs, and their medians. */
export interface ConfigSummary {
  name: string;
  label: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  non2xx: number;
  errors: number;
  grants: number;
  redisHitsPerRequest: number;
  /** Median over the runs of the serving process's CPU µs per request; NaN (null in JSON) when none was read. */
  serverCpuUsPerRequest: number;
  /** Median over the runs of redis-server's CPU µs per request, where it was measured. */
  redisCpuUsPerRequest?: number;
  runs: RunSample[];
}

/** Median of `values` (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** CPU time `cpuMs` spread over `requests`, in µs per request; NaN for no request. */
export function perRequestUs(cpuMs: number, requests: number): number {
  return requests > 0 ? (cpuMs * 1000) / requests : Number.NaN;
}

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);

/** Medians of requests/s, latencies and CPU per request over the runs; errors, non-2xx and grants summed. */
export function summarise(name: string, label: string, runs: readonly RunSample[]): ConfigSummary {
  const requests = sum(runs.map((run) => run.requests));
  const redisCpu = runs.flatMap((run) =>
    run.redisCpuUsPerRequest === undefined ? [] : [run.redisCpuUsPerRequest],
  );
  return {
    name,
    label,
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    meanMs: median(runs.map((run) => run.meanMs)),
    non2xx: sum(runs.map((run) => run.non2xx)),
    errors: sum(runs.map((run) => run.errors)),
    grants: sum(runs.map((run) => run.grants)),
    redisHitsPerRequest: requests > 0 ? sum(runs.map((run) => run.redisHits)) / requests : 0,
    serverCpuUsPerRequest: median(runs.map((run) => run.serverCpuUsPerRequest).filter(Number.isFinite)),
    ...(redisCpu.length > 0 ? { redisCpuUsPerRequest: median(redisCpu.filter(Number.isFinite)) } : {}),
    runs: [...runs],
  };
}
