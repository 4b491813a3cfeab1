import type { LoadResult } from './load.js';

/** One autocannon run of one configuration. */
export interface RunSample extends LoadResult {
  /** Grants the token endpoint performed during the run. */
  grants: number;
  /** Redis keyspace hits during the run. */
  redisHits: number;
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
  runs: RunSample[];
}

/** Median of `values` (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);

/** Medians of requests/s and latencies over the runs; errors, non-2xx and grants summed. */
export function summarise(name: string, label: string, runs: readonly RunSample[]): ConfigSummary {
  const requests = sum(runs.map((run) => run.requests));
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
    runs: [...runs],
  };
}
