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
 * `NODE_OPTIONS` of the gateway processes, as its image runs them (apps/gateway/Dockerfile): a heap cap, so V8
 * collects instead of growing, and Node 20's young-generation size on every Node line.
 */
export const GATEWAY_NODE_OPTIONS = '--max-old-space-size=192 --max-semi-space-size=16';

/** Defaults of a full run, and of a quick one (`BENCH_QUICK=1`: checks the harness in about a minute). */
const DEFAULTS = {
  full: { duration: 5, warmup: 2, rounds: 5, clients: 100_000, stampede: 1000 },
  quick: { duration: 1, warmup: 1, rounds: 1, clients: 2000, stampede: 200 },
} as const;

/**
 * The bench's settings, from the environment:
 * `BENCH_DURATION_S` (5), `BENCH_WARMUP_S` (2), `BENCH_ROUNDS` (5), `BENCH_CONNECTIONS` (32),
 * `BENCH_HOT_CLIENTS` (4), `BENCH_CLIENTS` (100000; 0 skips the scenario), `BENCH_CLIENT_CONCURRENCY` (64),
 * `BENCH_STAMPEDE` (1000; 0 skips it),
 * `BENCH_GRANT_DELAY_MS` (10, the token endpoint's latency).
 * `BENCH_QUICK=1` changes the defaults (not explicit values) to 1 s runs, 1 s warm-up, 1 round, 2000 clients and a
 * stampede of 200.
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const quick = env.BENCH_QUICK === '1';
  const defaults = quick ? DEFAULTS.quick : DEFAULTS.full;
  return {
    quick,
    durationSeconds: envNumber('BENCH_DURATION_S', defaults.duration, env),
    warmupSeconds: envNumber('BENCH_WARMUP_S', defaults.warmup, env),
    rounds: Math.max(1, Math.round(envNumber('BENCH_ROUNDS', defaults.rounds, env))),
    connections: Math.max(1, Math.round(envNumber('BENCH_CONNECTIONS', 32, env))),
    hotClients: Math.max(1, Math.round(envNumber('BENCH_HOT_CLIENTS', 4, env))),
    distinctClients: Math.round(envNumber('BENCH_CLIENTS', defaults.clients, env)),
    clientConcurrency: Math.max(1, Math.round(envNumber('BENCH_CLIENT_CONCURRENCY', 64, env))),
    stampedeRequests: Math.round(envNumber('BENCH_STAMPEDE', defaults.stampede, env)),
    grantDelayMs: envNumber('BENCH_GRANT_DELAY_MS', 10, env),
  };
}

/**
 * The Node binary the servers (gateway, proxies, downstream, token endpoint) run on: `BENCH_NODE`, e.g.
 * `$(npx -y node@24 -p process.execPath)`, else the one running the bench.
 */
export function serverNode(env: NodeJS.ProcessEnv = process.env): string {
  const node = env.BENCH_NODE?.trim();
  return node ? node : process.execPath;
}
