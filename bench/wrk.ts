import type { AutocannonRequest } from 'autocannon';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LoadResult, LoadSettings } from './load.js';

const execFileAsync = promisify(execFile);

/** Marks the line the wrk script's `done()` prints, so it is found among wrk's own report. */
export const WRK_REPORT_PREFIX = 'BENCH_WRK ';

const luaString = (text: string): string => JSON.stringify(text);

function luaHeaders(headers: Record<string, string> | undefined): string {
  const entries = Object.entries(headers ?? {}).map(
    ([name, value]) => `[${luaString(name)}] = ${luaString(value)}`,
  );
  return `{ ${entries.join(', ')} }`;
}

/**
 * A wrk Lua script that cycles through `requests` (wrk sends the one static request itself when there is one, which
 * is cheaper) and prints, when done, one line of JSON after {@link WRK_REPORT_PREFIX}: totals, errors and latency
 * percentiles in µs.
 */
export function wrkScript(requests: readonly AutocannonRequest[]): string {
  const lines: string[] = [];
  if (requests.length === 1) {
    const [only] = requests;
    lines.push(
      `wrk.method = ${luaString(only.method ?? 'GET')}`,
      `wrk.path = ${luaString(only.path ?? '/')}`,
      `for name, value in pairs(${luaHeaders(only.headers)}) do wrk.headers[name] = value end`,
    );
  } else {
    lines.push(
      'local prepared = {}',
      'init = function(args)',
      ...requests.map(
        (request) =>
          `  table.insert(prepared, wrk.format(${luaString(request.method ?? 'GET')}, ${luaString(request.path ?? '/')}, ${luaHeaders(request.headers)}))`,
      ),
      'end',
      'local next_index = 0',
      'request = function()',
      '  next_index = next_index % #prepared + 1',
      '  return prepared[next_index]',
      'end',
    );
  }
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format('${WRK_REPORT_PREFIX}{"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,' ..`,
    `    '"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d,"meanUs":%.1f}\\n',`,
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(99), latency.mean))',
    'end',
  );
  return `${lines.join('\n')}\n`;
}

/** What the wrk script's `done()` reports. */
interface WrkReport {
  requests: number;
  durationUs: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  statusErrors: number;
  timeouts: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

const REPORT_FIELDS: readonly (keyof WrkReport)[] = [
  'requests',
  'durationUs',
  'connectErrors',
  'readErrors',
  'writeErrors',
  'statusErrors',
  'timeouts',
  'p50Us',
  'p99Us',
  'meanUs',
];

/**
 * Reads the line {@link wrkScript}'s `done()` printed in wrk's output into a {@link LoadResult}: requests/s over
 * wrk's own measured duration, latencies in ms (wrk records µs), responses with a status ≥ 400 as `non2xx`
 * (what wrk counts), socket errors and timeouts as `errors`. Throws, quoting the output, when the line is missing.
 */
export function parseWrkOutput(output: string): LoadResult {
  const line = output.split('\n').find((text) => text.startsWith(WRK_REPORT_PREFIX));
  if (!line)
    throw new Error(`wrk printed no report line ("${WRK_REPORT_PREFIX.trim()} {...}"):\n${output.trim()}`);
  const raw = JSON.parse(line.slice(WRK_REPORT_PREFIX.length)) as Record<string, unknown>;
  const report = {} as WrkReport;
  for (const field of REPORT_FIELDS) {
    const value = raw[field];
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(`wrk's report line has no number for "${field}": ${line}`);
    report[field] = value;
  }
  return {
    requestsPerSecond: report.durationUs > 0 ? (report.requests * 1e6) / report.durationUs : 0,
    p50Ms: report.p50Us / 1000,
    p99Ms: report.p99Us / 1000,
    meanMs: report.meanUs / 1000,
    requests: report.requests,
    non2xx: report.statusErrors,
    errors: report.connectErrors + report.readErrors + report.writeErrors + report.timeouts,
  };
}

/** The path of a `wrk` binary on PATH, or undefined. */
export function findWrk(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Runs wrk (1 thread, `settings.connections` keep-alive connections) against `url`, cycling through `requests`. */
export async function runWrk(
  wrk: string,
  url: string,
  requests: readonly AutocannonRequest[],
  settings: LoadSettings,
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  try {
    const script = join(dir, 'requests.lua');
    writeFileSync(script, wrkScript(requests));
    const { stdout } = await execFileAsync(
      wrk,
      [
        '-t1',
        `-c${settings.connections}`,
        `-d${Math.max(1, Math.round(settings.durationSeconds))}s`,
        '--timeout',
        '10s',
        '-s',
        script,
        url,
      ],
      { encoding: 'utf8', timeout: (settings.durationSeconds + 30) * 1000 },
    );
    return parseWrkOutput(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
