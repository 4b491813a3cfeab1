import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../test/support/free-port.js';
import { findNginx, nginxConfig, startNginx, type NginxServer } from './nginx.js';

describe('nginxConfig', () => {
  const config = nginxConfig({ dir: '/tmp/bench-nginx-x', upstream: '127.0.0.1:4000', port: 4100 });

  it('runs one worker in the foreground, on loopback only, with a keep-alive HTTP/1.1 upstream', () => {
    expect(config).toContain('daemon off;');
    expect(config).toContain('worker_processes 1;');
    expect(config).toContain('listen 127.0.0.1:4100;');
    expect(config).toMatch(/upstream downstream \{\s+server 127\.0\.0\.1:4000;\s+keepalive 128;/);
    expect(config).toContain('proxy_http_version 1.1;');
    expect(config).toContain('proxy_set_header Connection "";');
    expect(config).toContain('access_log off;');
  });

  it('keeps its pid, error log and every temp path in its own dir', () => {
    for (const path of ['nginx.pid', 'error.log', 'client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
      expect(config).toContain(`/tmp/bench-nginx-x/${path}`);
    expect(config).not.toMatch(/\/var\/|\/run\//);
  });
});

const nginx = findNginx();

(nginx ? describe : describe.skip)('startNginx with the real nginx', () => {
  let downstream: Server;
  let server: NginxServer;
  const paths: string[] = [];

  beforeAll(async () => {
    downstream = createServer((request, response) => {
      paths.push(request.url ?? '');
      response.setHeader('content-type', 'application/json');
      response.end('{"from":"downstream"}');
    });
    await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
    const upstream = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
    server = await startNginx(nginx!, upstream, await freePort(), 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await new Promise((resolve) => downstream.close(resolve));
  });

  it('proxies to the downstream through its one worker, a child of the master', async () => {
    const response = await fetch(`${server.origin}/orders/items?limit=10`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ from: 'downstream' });
    expect(paths).toContain('/orders/items?limit=10');
    expect(server.workerPid).toEqual(expect.any(Number));
    expect(server.workerPid).not.toBe(server.child.pid);
    expect(existsSync(`/proc/${server.workerPid}`)).toBe(true);
  });
});
