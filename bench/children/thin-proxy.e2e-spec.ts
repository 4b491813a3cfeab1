import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { request } from 'undici';
import { startThinProxy, type ThinProxy } from './thin-proxy.js';

describe('the thinnest Node proxy (the bench’s baseline)', () => {
  let downstream: Server;
  let proxy: ThinProxy;
  const seen: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    downstream = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(201, { 'content-type': 'application/json', 'x-from': 'downstream' });
        res.end('{"ok":true}');
      });
    });
    downstream.listen(0, '127.0.0.1');
    await once(downstream, 'listening');
    process.env.BENCH_UPSTREAM = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
    proxy = await startThinProxy();
  });

  afterAll(async () => {
    await proxy.close();
    downstream.closeAllConnections();
    downstream.close();
    delete process.env.BENCH_UPSTREAM;
  });

  it('relays method, path, end-to-end headers and body to BENCH_UPSTREAM, and its answer back', async () => {
    const answer = await request(`http://127.0.0.1:${proxy.port}/orders/42?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-caller': 'a', te: 'trailers' },
      body: 'hello',
    });
    expect(answer.statusCode).toBe(201);
    expect(answer.headers['x-from']).toBe('downstream');
    expect(await answer.body.json()).toEqual({ ok: true });
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', url: '/orders/42?x=1', body: 'hello' });
    expect(last.headers['x-caller']).toBe('a');
    expect(last.headers.te).toBeUndefined();
    expect(last.headers.host).toBe(new URL(process.env.BENCH_UPSTREAM!).host);
  });

  it('answers 502 when the downstream cannot be reached', async () => {
    const unreachable = createServer();
    unreachable.listen(0, '127.0.0.1');
    await once(unreachable, 'listening');
    const port = (unreachable.address() as AddressInfo).port;
    unreachable.close();
    await once(unreachable, 'close');
    process.env.BENCH_UPSTREAM = `http://127.0.0.1:${port}`;
    const nowhere = await startThinProxy();
    try {
      const answer = await request(`http://127.0.0.1:${nowhere.port}/`);
      await answer.body.dump();
      expect(answer.statusCode).toBe(502);
    } finally {
      await nowhere.close();
      process.env.BENCH_UPSTREAM = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
    }
  });
});
