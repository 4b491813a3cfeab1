import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { announceListening } from './child-ipc.js';
import { startThinProxy } from './thin-proxy.js';

/** What the compiled gateway gives this child: its app, built and listening as `main.js` builds it. */
interface GatewayFactory {
  createGatewayApp(config: unknown): Promise<unknown>;
  listenGateway(app: unknown, config: unknown): Promise<unknown>;
}

/**
 * The thinnest Node proxy in a process that also runs the gateway's app, booted from the gateway's environment
 * (`PORT`, `REDIS_URL`, `V3_TOKEN_URL` …) and listening, but sent no request: what the proxy's CPU per request
 * pays for sharing its process with the app. `BENCH_PROXY_THREAD=isolate` serves the proxy on the app's own thread
 * (one V8 isolate, as the gateway's data plane is); `worker` serves it from a worker thread, an isolate of its own.
 * `BENCH_GATEWAY_DIR` is the compiled gateway (`dist/apps/gateway`).
 */
const gatewayDir = process.env.BENCH_GATEWAY_DIR;
const thread = process.env.BENCH_PROXY_THREAD;
if (!gatewayDir) throw new Error('BENCH_GATEWAY_DIR (the compiled gateway) is required');
if (thread !== 'isolate' && thread !== 'worker')
  throw new Error(`BENCH_PROXY_THREAD must be isolate or worker, not ${String(thread)}`);

const load = (file: string): Promise<unknown> => import(pathToFileURL(join(gatewayDir, file)).href);
await import('reflect-metadata');
const { createGatewayApp, listenGateway } = (await load('app.factory.js')) as GatewayFactory;
const { parseGatewayConfig } = (await load('config/gateway.config.js')) as {
  parseGatewayConfig(env: NodeJS.ProcessEnv): unknown;
};
const config = parseGatewayConfig(process.env);
await listenGateway(await createGatewayApp(config), config);

if (thread === 'isolate') announceListening((await startThinProxy()).port);
else {
  const worker = new Worker(new URL('./thin-proxy.worker.js', import.meta.url));
  worker.once('message', (port: number) => announceListening(port));
  worker.once('error', (error) => {
    process.stderr.write(`the proxy's worker failed: ${String(error)}\n`);
    process.exit(1);
  });
}
