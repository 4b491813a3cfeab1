import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ListeningMessage } from './children/child-ipc.js';

/** A server the bench started as a child process. */
export interface ChildServer {
  name: string;
  child: ChildProcess;
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** The child's last lines of output, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const OUTPUT_LINES = 40;

function captureOutput(child: ChildProcess): () => string {
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => lines.join('\n');
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

function asChildServer(name: string, child: ChildProcess, port: number, output: () => string): ChildServer {
  return { name, child, port, origin: `http://127.0.0.1:${port}`, output, stop: () => stopChild(child) };
}

/**
 * Forks a bench child script (see `children/`) with the Node binary `node` (default: this one) and resolves once
 * it reports its port.
 */
export function forkServer(
  name: string,
  script: string,
  env: Record<string, string> = {},
  node: string = process.execPath,
): Promise<ChildServer> {
  const child = fork(script, [], {
    execPath: node,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = captureOutput(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within 15 s:\n${output()}`));
    }, 15_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal}):\n${output()}`));
    });
    child.on('message', (message: ListeningMessage) => {
      if (message.type !== 'listening') return;
      clearTimeout(timer);
      resolve(asChildServer(name, child, message.port, output));
    });
  });
}

/** Whether `GET url` answers 2xx within a second. */
export async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Starts `<node> <main>` (the gateway; `node` defaults to this process's binary) with `env`, and resolves once
 * `GET <healthPath>` answers 2xx. The child is node itself, so its pid's RSS is the gateway's.
 */
export async function spawnNodeService(
  name: string,
  main: string,
  port: number,
  env: Record<string, string>,
  healthPath = '/health',
  timeoutMs = 30_000,
  node: string = process.execPath,
): Promise<ChildServer> {
  const child = spawn(node, [main], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${name} exited at boot (code ${child.exitCode}, signal ${child.signalCode}):\n${output()}`,
      );
    }
    if (await answers(`http://127.0.0.1:${port}${healthPath}`))
      return asChildServer(name, child, port, output);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stopChild(child);
  throw new Error(`${name} did not answer ${healthPath} within ${timeoutMs} ms:\n${output()}`);
}

/** The version (`process.version`) of the Node binary `node`. */
export function nodeVersion(node: string): string {
  return execFileSync(node, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
}

/** The fields of `/proc/<pid>/status` (`VmRSS` → `123 kB`), or undefined where it cannot be read (not Linux, no such process). */
export function procStatus(pid: number): Map<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Resident set size of a process: now and its peak (high-water mark), in MB. Linux only; 0 elsewhere. */
export function memoryOf(pid: number | undefined): { rssMb: number; peakRssMb: number } {
  const status = pid === undefined ? undefined : procStatus(pid);
  const mb = (field: string): number => Number(/^(\d+) kB$/.exec(status?.get(field) ?? '')?.[1] ?? 0) / 1024;
  return { rssMb: mb('VmRSS'), peakRssMb: mb('VmHWM') };
}

/** `/proc/<pid>/stat` numbers its fields from 1; the first one after the `)` that ends the command name is field 3. */
const FIRST_FIELD_AFTER_COMM = 3;
const UTIME_FIELD = 14;
const STIME_FIELD = 15;

/**
 * CPU time a process has used (user + system, all its threads), in ms, from a line of `/proc/<pid>/stat`:
 * fields 14 (utime) and 15 (stime), counted after the `)` that ends the command name (which may itself hold
 * spaces and parentheses), in clock ticks of `1 / ticksPerSecond` s.
 *
 * @example cpuMsFromStat('42 (node) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 11 0', 100) // 2800
 */
export function cpuMsFromStat(stat: string, ticksPerSecond: number): number {
  const commEnd = stat.lastIndexOf(')');
  const fields = stat
    .slice(commEnd + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[UTIME_FIELD - FIRST_FIELD_AFTER_COMM]);
  const stime = Number(fields[STIME_FIELD - FIRST_FIELD_AFTER_COMM]);
  if (commEnd < 0 || !Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error(
      `not a /proc/<pid>/stat line (no utime and stime after the command name): "${stat.trim()}"`,
    );
  }
  return ((utime + stime) * 1000) / ticksPerSecond;
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, read once); 100, Linux's value, if that fails. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time (user + system, all threads) process `pid` has used so far, in ms. Linux only; NaN elsewhere. */
export function cpuTimeMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return Number.NaN;
  }
  return cpuMsFromStat(stat, clockTicksPerSecond());
}
