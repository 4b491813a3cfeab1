import { parentPort } from 'node:worker_threads';
import { startThinProxy } from './thin-proxy.js';

/** A worker thread that runs the thinnest Node proxy in its own V8 isolate and posts its port to the thread that started it. */
parentPort?.postMessage((await startThinProxy()).port);
