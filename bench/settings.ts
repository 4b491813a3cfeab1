import type { BenchSettings } from './report.js';

/** A numeric environment variable, or `fallback`; a non-number stops the bench with the variable's name. */
export function envNumber(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

/**
 * The bench's settings, from the environment:
 * `BENCH_DURATION_S` (5), `BENCH_WARMUP_S` (2), `BENCH_ROUNDS` (5), `BENCH_CONNECTIONS` (16),
 * `BENCH_HOT_CLIENTS` (4), `BENCH_CLIENTS` (100000; 0 skips the scenario), `BENCH_CLIENT_CONCURRENCY` (64),
 * `BENCH_STAMPEDE` (1000; 0 skips it),
 * `BENCH_GRANT_DELAY_MS` (10, the token endpoint's latency).
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  return {
    durationSeconds: envNumber('BENCH_DURATION_S', 5, env),
    warmupSeconds: envNumber('BENCH_WARMUP_S', 2, env),
    rounds: Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 5, env))),
    connections: Math.max(1, Math.round(envNumber('BENCH_CONNECTIONS', 16, env))),
    hotClients: Math.max(1, Math.round(envNumber('BENCH_HOT_CLIENTS', 4, env))),
    distinctClients: Math.round(envNumber('BENCH_CLIENTS', 100_000, env)),
    clientConcurrency: Math.max(1, Math.round(envNumber('BENCH_CLIENT_CONCURRENCY', 64, env))),
    stampedeRequests: Math.round(envNumber('BENCH_STAMPEDE', 1000, env)),
    grantDelayMs: envNumber('BENCH_GRANT_DELAY_MS', 10, env),
  };
}
