import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';
import { announceListening } from './child-ipc.js';

const upstream = process.env.BENCH_UPSTREAM;
if (!upstream) throw new Error('BENCH_UPSTREAM (the downstream base URL) is required');

const app = Fastify({ logger: false });
await app.register(replyFrom, { base: upstream });
app.all('/*', (request, reply) => reply.from(request.url));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
announceListening(typeof address === 'object' && address ? address.port : 0);
