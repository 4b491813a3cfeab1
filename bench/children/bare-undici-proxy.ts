import Fastify from 'fastify';
import { announceListening } from './child-ipc.js';
import { forwardedHeaders, startAnswer, upstreamPool } from './undici-relay.js';

const pool = upstreamPool();

/**
 * The thinnest proxy behind Fastify's router and reply: undici's `Pool.stream()` writing straight into the caller's
 * response, no auth, no header rewriting beyond hop-by-hop, no metrics or logs. What Fastify costs a proxy, the
 * reason the gateway's data plane is a `node:http` listener of its own.
 */
const app = Fastify({ logger: false });
app.all('/*', (request, reply) => {
  reply.hijack();
  pool.stream(
    {
      method: request.method,
      path: request.url,
      headers: forwardedHeaders(request.headers),
      opaque: reply.raw,
    },
    startAnswer,
    (error) => {
      if (error && !reply.raw.headersSent) reply.raw.writeHead(502).end();
    },
  );
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
announceListening(typeof address === 'object' && address ? address.port : 0);
