import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { procStatus } from './processes.js';
import { median } from './stats.js';

/**
 * Side by side on one core: a gateway configuration and the baseline serve their loads at the same time, both pinned
 * to the same CPU, while the load generators, the downstream, the token endpoint and Redis keep the others. Both
 * servers then run through the same seconds of the same core, so the machine's drift (which moved the baseline's
 * CPU per request between 53 and 103 µs from one 5 s run to the next on this VM) moves both alike, and the ratio of
 * their CPU per request is steady from round to round. Requests/s are not compared here: two servers sharing a core
 * split it, so each one's rate mostly follows its own CPU per request.
 */

/** Which CPUs the two servers share and which CPUs everything else keeps (taskset's list form). */
export interface CorePlan {
  servers: string;
  rest: string;
}

/** The CPUs of a `Cpus_allowed_list` (`0-3,6`), in order; empty for anything else. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) return [];
    const [first, last] = [Number(match[1]), Number(match[2] ?? match[1])];
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPUs `pid` may run on (its main thread's `Cpus_allowed_list`), or undefined where that cannot be read. */
export function allowedCpus(pid: number): string | undefined {
  return procStatus(pid)?.get('Cpus_allowed_list');
}

/** Of the CPUs the bench may use, the servers get the last and everything else the others; none with one CPU. */
export function corePlan(cpus: readonly number[]): CorePlan | undefined {
  if (cpus.length < 2) return undefined;
  return { servers: String(cpus[cpus.length - 1]), rest: cpus.slice(0, -1).join(',') };
}

/**
 * Pins every thread of `pid` to `cpus` with taskset; false when taskset is missing or refuses, or there is no such
 * process (`taskset -a` succeeds on a pid with no threads to pin).
 */
export function pinProcess(pid: number, cpus: string): boolean {
  if (!existsSync(`/proc/${pid}/task`)) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What one server did during one side-by-side round. */
export interface SideRun {
  requests: number;
  /** CPU time of the server process (all its threads) during the round, ms. */
  cpuMs: number;
  non2xx: number;
  errors: number;
}

/** One round: the configuration's run and the baseline's, over the same seconds. */
export interface SideBySideRound {
  configuration: SideRun;
  baseline: SideRun;
}

/** The side-by-side reading of one configuration against the baseline. */
export interface SideBySideSummary {
  name: string;
  label: string;
  rounds: number;
  /** Medians over the rounds, µs of CPU per request. */
  configurationUs: number;
  baselineUs: number;
  /** Median, lowest and highest over the rounds of the configuration's CPU per request over the baseline's. */
  cpuRatio: number;
  lowestRatio: number;
  highestRatio: number;
  /** Non-2xx answers and errors of both servers, all rounds. */
  failures: number;
}

const usPerRequest = (run: SideRun): number => (run.requests > 0 ? (run.cpuMs * 1000) / run.requests : NaN);

/** Summarises the rounds of one configuration; rounds where either side served nothing are left out. */
export function summariseSideBySide(
  name: string,
  label: string,
  rounds: readonly SideBySideRound[],
): SideBySideSummary {
  const usable = rounds.filter(
    (round) =>
      Number.isFinite(usPerRequest(round.configuration)) && Number.isFinite(usPerRequest(round.baseline)),
  );
  const ratios = usable.map((round) => usPerRequest(round.configuration) / usPerRequest(round.baseline));
  return {
    name,
    label,
    rounds: usable.length,
    configurationUs: median(usable.map((round) => usPerRequest(round.configuration))),
    baselineUs: median(usable.map((round) => usPerRequest(round.baseline))),
    cpuRatio: median(ratios),
    lowestRatio: ratios.length > 0 ? Math.min(...ratios) : NaN,
    highestRatio: ratios.length > 0 ? Math.max(...ratios) : NaN,
    failures: rounds.reduce(
      (sum, round) =>
        sum +
        round.configuration.non2xx +
        round.configuration.errors +
        round.baseline.non2xx +
        round.baseline.errors,
      0,
    ),
  };
}

/**
 * Runs `rounds` side-by-side rounds: `run(first)` and `run(second)` start together, the baseline's load first in
 * odd rounds and the configuration's in even ones (whichever starts first measured a few percent apart here).
 */
export async function sideBySideRounds(
  rounds: number,
  run: (side: 'configuration' | 'baseline') => Promise<SideRun>,
): Promise<SideBySideRound[]> {
  const results: SideBySideRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    const baselineFirst = round % 2 === 1;
    const [first, second] = baselineFirst
      ? (['baseline', 'configuration'] as const)
      : (['configuration', 'baseline'] as const);
    const firstRun = run(first);
    const secondRun = run(second);
    const [a, b] = await Promise.all([firstRun, secondRun]);
    results.push(baselineFirst ? { baseline: a, configuration: b } : { configuration: a, baseline: b });
  }
  return results;
}
