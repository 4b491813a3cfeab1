import { cpus, release, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SideBySideSummary } from './side-by-side.js';
import { median, type ConfigSummary } from './stats.js';

/** The machine a run was measured on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  /** The Node version the servers (gateway, proxies, downstream) ran on: `BENCH_NODE`'s, else the bench's. */
  node: string;
  redis: string;
  /** The load generator that measured: `wrk` or `autocannon`. */
  loadGenerator: string;
  /** Share of CPU time other processes used in the second before the bench started anything (0–1). */
  busyBeforeStart: number;
  /** Share of the CPU time the hypervisor stole during the measured rounds (0–1), where `/proc/stat` tells. */
  stealDuringRounds?: number;
}

/** Settings of a run; every configuration is measured with the same ones. */
export interface BenchSettings {
  /** `BENCH_QUICK=1`: short defaults, to check the harness rather than measure. */
  quick: boolean;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  hotClients: number;
  distinctClients: number;
  /** Requests in flight while serving the distinct clients. */
  clientConcurrency: number;
  stampedeRequests: number;
  grantDelayMs: number;
}

/** A cold stampede of one client across gateway instances. */
export interface StampedeResult {
  requests: number;
  instances: number;
  ok: number;
  statuses: Record<string, number>;
  grants: number;
  durationMs: number;
}

/** One pass of requests over many distinct clients. */
export interface ClientsPass {
  ok: number;
  statuses: Record<string, number>;
  grants: number;
  redisHits: number;
  durationMs: number;
}

/** The many-distinct-clients scenario. */
export interface ManyClientsResult {
  clients: number;
  firstPass: ClientsPass;
  secondPass: ClientsPass;
  redisKeys: number;
  rssMb: number;
  peakRssMb: number;
  /** The hot clients' warm path and the baseline (the thinnest Node proxy), measured again afterwards. */
  hotAfter: ConfigSummary;
  baselineAfter: ConfigSummary;
}

/** Everything a run measured. Written as `bench/results/<date>.json`. */
export interface BenchResults {
  date: string;
  machine: MachineInfo;
  settings: BenchSettings;
  gatewayMeasured: boolean;
  configs: ConfigSummary[];
  grants: {
    total: number;
    /** Grants per client that was used for more than one request (hot clients, the bearer client). */
    perReusedClient: Record<string, number>;
    duringMeasuredRuns: number;
  };
  memory: { bootRssMb: number; afterRunsRssMb: number; peakRssMb: number };
  stampede?: StampedeResult;
  manyClients?: ManyClientsResult;
  /** The configurations held to targets, each side by side with the baseline on one core (`side-by-side.ts`). */
  sideBySide?: SideBySideSummary[];
  notes: string[];
}

/** One target of the benchmark and whether this run met it. */
export interface TargetVerdict {
  target: string;
  wanted: string;
  measured: string;
  pass: boolean;
}

export const RSS_LIMIT_MB = 300;

const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const times = (ratio: number): string => (Number.isFinite(ratio) ? `${fixed(ratio)}×` : 'n/a');
const integer = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';

/** Share of all cores' time spent busy during the next `ms` milliseconds (0–1). */
export async function cpuBusyFraction(ms = 1000): Promise<number> {
  const totals = (): { busy: number; all: number } =>
    cpus().reduce(
      (sum, cpu) => {
        const all = cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.idle + cpu.times.irq;
        return { busy: sum.busy + all - cpu.times.idle, all: sum.all + all };
      },
      { busy: 0, all: 0 },
    );
  const before = totals();
  await sleep(ms);
  const after = totals();
  const all = after.all - before.all;
  return all > 0 ? (after.busy - before.busy) / all : 0;
}

/** The machine this process runs on. */
export function machineInfo(
  redisVersion: string,
  busyBeforeStart: number,
  node: string = process.version,
  loadGenerator = 'autocannon',
): MachineInfo {
  const cpuList = cpus();
  return {
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node,
    redis: redisVersion,
    loadGenerator,
    busyBeforeStart,
  };
}

function byName(results: BenchResults, name: string): ConfigSummary | undefined {
  return results.configs.find((config) => config.name === name);
}

/** The configuration every ratio is against: the thinnest Node proxy (node:http + undici `Pool.stream()`). */
export const BASELINE = 'thin-node';
const BASELINE_LABEL = 'thinnest Node proxy';

/** The targets against the baseline. */
export const TARGETS = {
  /** Warm paths' requests/s, at least this share of the baseline's. */
  warmRequestsRatio: 0.9,
  /** Warm paths' CPU per request, at most this multiple of the baseline's. */
  warmCpuRatio: 1.11,
  /** Warm paths' p99, at most this many ms above the baseline's. */
  warmP99ExtraMs: 1,
  /** The Redis-hit path's requests/s, at least this share of the baseline's. */
  redisRequestsRatio: 0.8,
} as const;

/** The paths held to the warm-path targets, by configuration name. */
const WARM_PATHS = [
  ['gateway-basic', 'warm path (Basic)'],
  ['gateway-bearer', 'Bearer path'],
] as const;

/** The configurations the targets are about: the baseline runs beside each of them (`runOrder`). */
export const HELD_TO_TARGETS: ReadonlySet<string> = new Set([
  'gateway-basic',
  'gateway-bearer',
  'gateway-redis',
]);

/**
 * The configurations read side by side with the baseline: those held to targets, and the thinnest proxy beside the
 * gateway's app, in its isolate and in a worker thread (what sharing the app's isolate costs a proxy; not targets).
 */
export const READ_SIDE_BY_SIDE: ReadonlySet<string> = new Set([
  ...HELD_TO_TARGETS,
  'thin-beside-app',
  'thin-worker-beside-app',
]);

/**
 * `of(config) / of(baseline)`, paired run by run: the median of each run's own ratio against the baseline runs on
 * either side of it (their geometric mean; `RunSample.baselineRuns`), so that the machine's drift (another process,
 * steal) moves both sides of a ratio alike. Runs without neighbours recorded are paired by round when both sides ran
 * as many runs; otherwise, or when no run gives a finite ratio, it is the ratio of the medians.
 */
export function pairedRatio(
  baseline: ConfigSummary,
  config: ConfigSummary,
  of: (
    summary: Pick<ConfigSummary, 'requestsPerSecond' | 'serverCpuUsPerRequest' | 'redisCpuUsPerRequest'>,
  ) => number,
): number {
  const byNeighbours = config.runs.every((run) => (run.baselineRuns?.length ?? 0) > 0);
  if (config.runs.length > 0 && (byNeighbours || config.runs.length === baseline.runs.length)) {
    const ratios = config.runs
      .map((run, round) => {
        const neighbours = byNeighbours
          ? run.baselineRuns!.map((index) => baseline.runs[index])
          : [baseline.runs[round]];
        if (neighbours.some((neighbour) => neighbour === undefined)) return Number.NaN;
        const product = neighbours.reduce((all, neighbour) => all * of(neighbour), 1);
        return of(run) / product ** (1 / neighbours.length);
      })
      .filter((ratio) => Number.isFinite(ratio));
    if (ratios.length > 0) return median(ratios);
  }
  return of(config) / of(baseline);
}

/**
 * `config`'s CPU time per request (its own process, plus redis-server's when `withRedis`) divided by the baseline's,
 * paired run by run ({@link pairedRatio}): 1.10× spends a tenth more CPU per request than the baseline; lower is better.
 */
export function cpuRatio(baseline: ConfigSummary, config: ConfigSummary, withRedis = false): number {
  const cpuOf = (summary: Pick<ConfigSummary, 'serverCpuUsPerRequest' | 'redisCpuUsPerRequest'>): number =>
    summary.serverCpuUsPerRequest + (withRedis ? (summary.redisCpuUsPerRequest ?? 0) : 0);
  return config === baseline ? 1 : pairedRatio(baseline, config, cpuOf);
}

/** `config`'s requests/s divided by the baseline's, paired run by run ({@link pairedRatio}); higher is better. */
export function requestsRatio(baseline: ConfigSummary, config: ConfigSummary): number {
  return config === baseline ? 1 : pairedRatio(baseline, config, (summary) => summary.requestsPerSecond);
}

/** Checks the targets against a run. Targets whose configuration was not measured are left out. */
export function evaluateTargets(results: BenchResults): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  const baseline = byName(results, BASELINE);
  const warm = byName(results, 'gateway-basic');
  const redis = byName(results, 'gateway-redis');
  if (baseline) {
    for (const [name, label] of WARM_PATHS) {
      const path = byName(results, name);
      if (!path) continue;
      const ratio = requestsRatio(baseline, path);
      verdicts.push({
        target: `${label} requests/s vs ${BASELINE_LABEL}`,
        wanted: `≥ ${fixed(TARGETS.warmRequestsRatio)}×`,
        measured: times(ratio),
        pass: ratio >= TARGETS.warmRequestsRatio,
      });
      const cpu = cpuRatio(baseline, path);
      verdicts.push({
        target: `${label} CPU per request vs ${BASELINE_LABEL}`,
        wanted: `≤ ${fixed(TARGETS.warmCpuRatio)}×`,
        measured: times(cpu),
        pass: cpu <= TARGETS.warmCpuRatio,
      });
      const extra = path.p99Ms - baseline.p99Ms;
      verdicts.push({
        target: `${label} p99 vs ${BASELINE_LABEL} p99`,
        wanted: `≤ +${TARGETS.warmP99ExtraMs} ms`,
        measured: `${extra >= 0 ? '+' : ''}${fixed(extra)} ms`,
        pass: extra <= TARGETS.warmP99ExtraMs,
      });
    }
    if (redis) {
      const ratio = requestsRatio(baseline, redis);
      verdicts.push({
        target: `Redis-hit path requests/s vs ${BASELINE_LABEL}`,
        wanted: `≥ ${fixed(TARGETS.redisRequestsRatio)}×`,
        measured: times(ratio),
        pass: ratio >= TARGETS.redisRequestsRatio,
      });
    }
  }
  const reused = Object.values(results.grants.perReusedClient);
  if (reused.length > 0) {
    const extra = reused.filter((grants) => grants !== 1).length;
    verdicts.push({
      target: 'grants per reused client, whole run',
      wanted: 'exactly 1',
      measured:
        extra === 0
          ? `1 for each of ${reused.length}`
          : `${extra} of ${reused.length} clients ≠ 1 (${reused.join(', ')})`,
      pass: extra === 0,
    });
  }
  const stampede = results.stampede;
  if (stampede) {
    verdicts.push({
      target: `cold stampede: ${stampede.requests} concurrent requests of one client over ${stampede.instances} instances`,
      wanted: '1 grant, all 200',
      measured: `${stampede.grants} grant(s), ${stampede.ok}/${stampede.requests} × 200`,
      pass: stampede.grants === 1 && stampede.ok === stampede.requests,
    });
  }
  const many = results.manyClients;
  if (many) {
    verdicts.push({
      target: `${integer(many.clients)} distinct clients: gateway peak RSS`,
      wanted: `< ${RSS_LIMIT_MB} MB`,
      measured: `${fixed(many.peakRssMb, 0)} MB`,
      pass: many.peakRssMb > 0 && many.peakRssMb < RSS_LIMIT_MB,
    });
    verdicts.push({
      target: `${integer(many.clients)} distinct clients served again: no new grant`,
      wanted: `0 grants, all 200`,
      measured: `${integer(many.secondPass.grants)} grants, ${integer(many.secondPass.ok)} × 200, ${integer(many.secondPass.redisHits)} Redis hits`,
      pass:
        many.secondPass.grants === 0 &&
        many.secondPass.ok === many.clients &&
        many.firstPass.ok === many.clients,
    });
    if (warm && baseline) {
      const before = requestsRatio(baseline, warm);
      const after = requestsRatio(many.baselineAfter, many.hotAfter);
      verdicts.push({
        target: `hot clients’ warm path after them (vs ${BASELINE_LABEL})`,
        wanted: `unchanged (≥ 0.90 of ${fixed(before)}×)`,
        measured: `${fixed(after)}×`,
        pass: after >= 0.9 * before,
      });
    }
  }
  return verdicts;
}

/** The Redis-hit path's CPU per request against the baseline's, with and without redis-server's (not a target). */
function redisCpuLine(results: BenchResults): string | undefined {
  const baseline = byName(results, BASELINE);
  const redis = byName(results, 'gateway-redis');
  if (!baseline || !redis) return undefined;
  const withRedis =
    redis.redisCpuUsPerRequest === undefined
      ? ''
      : `, ${times(cpuRatio(baseline, redis, true))} counting redis-server’s CPU too`;
  return `Redis-hit path CPU per request vs the ${BASELINE_LABEL} (not a target): ${times(cpuRatio(baseline, redis))}${withRedis}.`;
}

/**
 * How far nginx (one worker) stands from the gateway's warm path: its requests/s and CPU per request as multiples
 * of the gateway's. One line, not a target.
 */
function nginxLine(results: BenchResults): string | undefined {
  const nginx = byName(results, 'nginx');
  const warm = byName(results, 'gateway-basic');
  if (!nginx || !warm) return undefined;
  return (
    `nginx (one worker) against the gateway’s warm path (Basic): ${times(requestsRatio(warm, nginx))} ` +
    `its requests/s at ${times(cpuRatio(warm, nginx))} its CPU per request.`
  );
}

/** The side-by-side readings as Markdown lines: what was pinned where, then one row per configuration. */
function sideBySideLines(results: BenchResults): string[] {
  const readings = results.sideBySide;
  if (readings === undefined || readings.length === 0) return [];
  const { settings } = results;
  const lines = [
    '',
    `Side by side on one core (a steadier reading of the CPU ratio; not a target): each configuration and the ${BASELINE_LABEL} ` +
      `served their loads at the same time, both pinned to one CPU, the load generators, downstream, token ` +
      `endpoint and Redis on the others; ${settings.rounds} round${settings.rounds === 1 ? '' : 's'} of ${settings.durationSeconds} s, the baseline’s load ` +
      'started first in every other round. Both servers go through the same seconds of the same core, so the VM’s drift ' +
      'moves them alike.',
    '',
    `| configuration | server CPU µs/req | ${BASELINE_LABEL} CPU µs/req | CPU × ${BASELINE_LABEL} | lowest–highest round | non-2xx + errors |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const reading of readings) {
    lines.push(
      `| ${reading.label} | ${fixed(reading.configurationUs, 1)} | ${fixed(reading.baselineUs, 1)} | ` +
        `${times(reading.cpuRatio)} | ${times(reading.lowestRatio)}–${times(reading.highestRatio)} | ${reading.failures} |`,
    );
  }
  return lines;
}

/** The results as Markdown: machine, settings, one row per configuration, the targets and the rest. */
export function renderMarkdown(results: BenchResults, verdicts: readonly TargetVerdict[]): string {
  const { machine, settings } = results;
  const baseline = byName(results, BASELINE);
  const lines: string[] = [
    `### Benchmark, ${results.date}`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; ` +
      `Redis ${machine.redis}; ${fixed(machine.busyBeforeStart * 100, 0)}% of the CPU busy before the bench started` +
      (machine.stealDuringRounds === undefined
        ? '.'
        : `, ${fixed(machine.stealDuringRounds * 100, 1)}% of it stolen by the hypervisor during the measured rounds.`),
    `Load: ${machine.loadGenerator}${machine.loadGenerator === 'wrk' ? ' (1 thread)' : ''}, ${settings.connections} keep-alive connections, ${settings.warmupSeconds} s warm-up, then ` +
      `${settings.rounds} interleaved rounds of ${settings.durationSeconds} s per configuration; medians. ` +
      `Token endpoint latency ${settings.grantDelayMs} ms. Everything on loopback, on the same machine as the load generator.`,
    '',
    `| configuration | requests/s | × ${BASELINE_LABEL} | server CPU µs/req | CPU × ${BASELINE_LABEL} | p50 ms | p99 ms | mean ms | non-2xx | grants during runs |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const config of results.configs) {
    const ratio = baseline ? times(requestsRatio(baseline, config)) : 'n/a';
    const cpu = baseline ? times(cpuRatio(baseline, config)) : 'n/a';
    lines.push(
      `| ${config.label} | ${integer(config.requestsPerSecond)} | ${ratio} | ${fixed(config.serverCpuUsPerRequest, 1)} | ` +
        `${cpu} | ${fixed(config.p50Ms, 1)} | ${fixed(config.p99Ms, 1)} | ${fixed(config.meanMs)} | ` +
        `${config.non2xx + config.errors} | ${config.grants} |`,
    );
  }
  lines.push(
    '',
    'Server CPU: user + system time of the process serving the configuration (all its threads, from /proc/<pid>/stat) ' +
      'per completed request, median of the rounds; steadier than requests/s on a shared machine. ' +
      `Both ratios are medians of each run’s own ratio against the ${BASELINE_LABEL}’s runs right before and after it ` +
      '(their geometric mean; the baseline runs beside every gateway configuration), so the machine’s drift moves ' +
      'both sides alike. ' +
      `CPU × ${BASELINE_LABEL} is the configuration’s CPU per request divided by the ${BASELINE_LABEL}’s ` +
      '(node:http + undici Pool.stream(), no framework, no auth): lower is better. nginx’s is its one worker’s.',
  );
  for (const config of results.configs) {
    if (config.redisCpuUsPerRequest === undefined) continue;
    lines.push(
      `${config.label}: redis-server spent another ${fixed(config.redisCpuUsPerRequest, 1)} µs of CPU per request ` +
        `(${fixed(config.serverCpuUsPerRequest + config.redisCpuUsPerRequest, 1)} µs with the gateway’s).`,
    );
  }
  if (verdicts.length > 0) {
    lines.push('', '| target | wanted | measured | |', '| --- | --- | --- | --- |');
    for (const verdict of verdicts) {
      lines.push(
        `| ${verdict.target} | ${verdict.wanted} | ${verdict.measured} | ${verdict.pass ? 'pass' : '**FAIL**'} |`,
      );
    }
  }
  for (const line of [redisCpuLine(results), nginxLine(results)]) if (line) lines.push('', line);
  lines.push(...sideBySideLines(results));
  lines.push('');
  if (results.gatewayMeasured) {
    lines.push(
      `Grants the token endpoint saw: ${integer(results.grants.total)} in all, ${results.grants.duringMeasuredRuns} during the measured runs. ` +
        `Gateway RSS: ${fixed(results.memory.bootRssMb, 0)} MB at boot, ${fixed(results.memory.afterRunsRssMb, 0)} MB after the runs, ` +
        `peak ${fixed(results.memory.peakRssMb, 0)} MB.`,
    );
  }
  if (results.stampede) {
    const s = results.stampede;
    lines.push(
      `Stampede: ${s.requests} requests in ${fixed(s.durationMs, 0)} ms, statuses ${JSON.stringify(s.statuses)}.`,
    );
  }
  if (results.manyClients) {
    const m = results.manyClients;
    lines.push(
      `Distinct clients: ${integer(m.clients)} served in ${fixed(m.firstPass.durationMs / 1000, 1)} s ` +
        `(${integer(m.firstPass.grants)} grants), again in ${fixed(m.secondPass.durationMs / 1000, 1)} s ` +
        `(${integer(m.secondPass.grants)} grants, ${integer(m.secondPass.redisHits)} Redis hits); ${integer(m.redisKeys)} Redis keys; ` +
        `RSS ${fixed(m.rssMb, 0)} MB after, peak ${fixed(m.peakRssMb, 0)} MB.`,
    );
  }
  for (const note of results.notes) lines.push(`Note: ${note}`);
  return `${lines.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const COLOURS: Record<string, string> = {
  direct: '#9e9e9e',
  'thin-node': '#8c564b',
  nginx: '#009639',
  'bare-proxy': '#1f77b4',
  'bare-undici': '#9467bd',
  'gateway-basic': '#2ca02c',
  'gateway-bearer': '#17becf',
  'gateway-redis': '#ff7f0e',
};

/** A dependency-free SVG: requests/s and p99 latency per configuration, as two bar panels side by side. */
export function renderSvg(configs: readonly ConfigSummary[], title: string): string {
  const labelWidth = Math.max(
    120,
    16 + Math.ceil(7 * Math.max(...configs.map((config) => config.label.length))),
  );
  const panelWidth = 260;
  const gap = 40;
  const rowHeight = 26;
  const top = 56;
  const width = labelWidth + panelWidth * 2 + gap + 70;
  const height = top + rowHeight * configs.length + 24;
  const maxRps = Math.max(1, ...configs.map((config) => config.requestsPerSecond).filter(Number.isFinite));
  const maxP99 = Math.max(1, ...configs.map((config) => config.p99Ms).filter(Number.isFinite));
  const panels = [
    {
      x: labelWidth,
      heading: 'requests/s (higher is better)',
      value: (c: ConfigSummary) => c.requestsPerSecond,
      max: maxRps,
      text: integer,
    },
    {
      x: labelWidth + panelWidth + gap,
      heading: 'p99 latency, ms (lower is better)',
      value: (c: ConfigSummary) => c.p99Ms,
      max: maxP99,
      text: (v: number) => fixed(v, 1),
    },
  ];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (const panel of panels) {
    parts.push(`<text x="${panel.x}" y="${top - 12}" font-weight="bold">${escapeXml(panel.heading)}</text>`);
    parts.push(`<line x1="${panel.x}" y1="${top - 4}" x2="${panel.x}" y2="${height - 20}" stroke="#333"/>`);
  }
  configs.forEach((config, row) => {
    const y = top + row * rowHeight;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(config.label)}</text>`,
    );
    for (const panel of panels) {
      const value = panel.value(config);
      const barWidth = Number.isFinite(value) ? Math.max(1, (value / panel.max) * (panelWidth - 10)) : 0;
      const colour = COLOURS[config.name] ?? '#7f7f7f';
      parts.push(
        `<rect x="${panel.x}" y="${y + 3}" width="${barWidth.toFixed(1)}" height="${rowHeight - 8}" fill="${colour}"/>`,
      );
      parts.push(
        `<text x="${(panel.x + barWidth + 4).toFixed(1)}" y="${y + 15}">${escapeXml(panel.text(value))}</text>`,
      );
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
