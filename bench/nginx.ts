import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers, stopChild, type ChildServer } from './processes.js';

/** Where a bench nginx keeps its config, pid, logs and temp files (all under one temp dir). */
export interface NginxPaths {
  dir: string;
  /** `127.0.0.1:<port>` of the downstream. */
  upstream: string;
  port: number;
}

/**
 * An nginx config for the reference row: one worker, access log off, a keep-alive upstream (HTTP/1.1, the
 * `Connection` header cleared), the pid file, error log and every temp path under `paths.dir`, listening on
 * `127.0.0.1:<port>` only. Requests per keep-alive connection are not capped, as Node does not cap them.
 */
export function nginxConfig(paths: NginxPaths): string {
  const at = (name: string): string => join(paths.dir, name);
  return `daemon off;
master_process on;
worker_processes 1;
pid ${at('nginx.pid')};
error_log ${at('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${at('client_body')};
  proxy_temp_path ${at('proxy')};
  fastcgi_temp_path ${at('fastcgi')};
  uwsgi_temp_path ${at('uwsgi')};
  scgi_temp_path ${at('scgi')};
  keepalive_requests 1000000;
  keepalive_timeout 30s;
  upstream downstream {
    server ${paths.upstream};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${paths.port};
    location / {
      proxy_pass http://downstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** The path of an `nginx` binary (PATH, then /usr/sbin), or undefined. */
export function findNginx(): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', 'command -v nginx || command -v /usr/sbin/nginx'], {
        encoding: 'utf8',
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** Child pids of `pid`, from `/proc/<pid>/task/<pid>/children` (Linux); empty elsewhere. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** A running bench nginx: its master as a {@link ChildServer}, and the pid of its one worker (which serves). */
export interface NginxServer extends ChildServer {
  workerPid: number | undefined;
}

/**
 * Starts `nginx` in the foreground with its own generated config ({@link nginxConfig}) in a fresh temp dir, in
 * front of `upstream` (`http://127.0.0.1:<port>`), and resolves once it answers `GET /` through to the downstream.
 * Stopping it removes the temp dir.
 */
export async function startNginx(
  nginx: string,
  upstream: string,
  port: number,
  timeoutMs = 15_000,
): Promise<NginxServer> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  for (const temp of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, temp));
  const config = join(dir, 'nginx.conf');
  writeFileSync(config, nginxConfig({ dir, upstream: new URL(upstream).host, port }));
  const child = spawn(nginx, ['-p', dir, '-c', config, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = (): string => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = output();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx exited at start (code ${child.exitCode}):\n${log}`);
    }
    if (await answers(`${origin}/`)) {
      const [workerPid] = childPids(child.pid!);
      return { name: 'nginx', child, port, origin, output, stop, workerPid };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = output();
  await stop();
  throw new Error(`nginx did not answer within ${timeoutMs} ms:\n${log}`);
}
