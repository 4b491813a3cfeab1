import { fork, spawn, type ChildProcess } from 'node:child_process';
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

/** Forks a bench child script (see `children/`) and resolves once it reports its port. */
export function forkServer(
  name: string,
  script: string,
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const child = fork(script, [], {
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

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Starts `node <main>` (the gateway) with `env`, and resolves once `GET <healthPath>` answers 2xx.
 * The child is node itself, so its pid's RSS is the gateway's.
 */
export async function spawnNodeService(
  name: string,
  main: string,
  port: number,
  env: Record<string, string>,
  healthPath = '/health',
  timeoutMs = 30_000,
): Promise<ChildServer> {
  const child = spawn(process.execPath, [main], {
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

/** Resident set size of a process: now and its peak (high-water mark), in MB. Linux only; 0 elsewhere. */
export function memoryOf(pid: number | undefined): { rssMb: number; peakRssMb: number } {
  if (pid === undefined) return { rssMb: 0, peakRssMb: 0 };
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: 0, peakRssMb: 0 };
  }
}
