import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announceListening } from './child-ipc.js';

const body = JSON.stringify({ id: 42, status: 'ok', items: [1, 2, 3] });

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => announceListening((server.address() as AddressInfo).port));
