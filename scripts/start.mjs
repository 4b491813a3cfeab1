#!/usr/bin/env node
// `npm start`: builds only when the build is older than its sources, then runs the sandbox and the gateway side by
// side. Environment values reach both processes as they are: no shell splits or interprets them.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..');
const SOURCES = ['apps', 'libs/v3-token-auth/src', 'tsconfig.json', 'nest-cli.json', 'package.json'];
const OUTPUTS = [
  'dist/apps/gateway/main.js',
  'dist/apps/sandbox/main.js',
  'libs/v3-token-auth/dist/index.js',
];

function newestMtime(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'test') continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

function buildIsStale() {
  const built = Math.min(
    ...OUTPUTS.map((output) => statSync(join(root, output), { throwIfNoEntry: false })?.mtimeMs ?? 0),
  );
  return built === 0 || SOURCES.some((source) => newestMtime(join(root, source)) > built);
}

function run(command, args, env, name) {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
  }
  return child;
}

/** Whether `port` can be listened on now (nothing else holds it), by binding it for a moment. */
function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port: Number(port), exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

async function waitForReady(url, child) {
  for (let i = 0; i < 300 && child.exitCode === null; i++) {
    const ok = await fetch(url).then(
      (answer) => answer.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

if (buildIsStale()) {
  process.stdout.write('Building (sources are newer than dist/)…\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // Its own process group, so that a signal to the launcher stops the whole build (npm, sh, tsc, nest) with it.
  const build = spawn(npm, ['run', 'build'], { cwd: root, stdio: 'inherit', detached: true });
  const stopBuild = (signal) => {
    try {
      process.kill(-build.pid, signal);
    } catch {
      // The build has ended already.
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, stopBuild);
  const code = await new Promise((resolve) => build.on('exit', (status) => resolve(status ?? 1)));
  for (const signal of ['SIGINT', 'SIGTERM']) process.off(signal, stopBuild);
  if (code !== 0) process.exit(code);
}

const sandboxPort = process.env.SANDBOX_PORT ?? '3001';
const gatewayPort = process.env.PORT ?? '3000';
const gatewayEnv = {
  ...process.env,
  NODE_ENV: process.env.NODE_ENV ?? 'development',
  V3_TOKEN_URL: process.env.V3_TOKEN_URL ?? `http://127.0.0.1:${sandboxPort}/token`,
  GATEWAY_ROUTES: process.env.GATEWAY_ROUTES ?? `/v3=http://127.0.0.1:${sandboxPort}`,
};
const gatewayPortWasFree = await portIsFree(gatewayPort);
const children = [
  run(process.execPath, ['dist/apps/sandbox/main.js'], process.env, 'sandbox'),
  run(process.execPath, ['dist/apps/gateway/main.js'], gatewayEnv, 'gateway'),
];

let stopping = false;
let exitCode = 0;
function stopAll(signal) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stopAll(signal));
for (const child of children) {
  child.on('exit', (code) => {
    // The first process to end on its own decides the exit code; the other is stopped with it.
    if (!stopping) {
      exitCode = code ?? 1;
      stopAll('SIGTERM');
    }
    if (children.every((each) => each.exitCode !== null || each.signalCode !== null)) process.exit(exitCode);
  });
}

const base = `http://localhost:${gatewayPort}`;
const sandboxReady = waitForReady(`http://127.0.0.1:${sandboxPort}/health`, children[0]);
const gatewayReady = waitForReady(`http://127.0.0.1:${gatewayPort}/health/live`, children[1]);
// Something else holding the gateway's port would answer the readiness check: then the gateway's own line saying so is
// all that is printed, never "ready".
if (gatewayPortWasFree && (await sandboxReady) && (await gatewayReady)) {
  process.stdout.write(
    [
      '',
      `Gateway ready on ${base} (sandbox token endpoint on http://127.0.0.1:${sandboxPort}/token). Try:`,
      `  curl -s -u demo-client:demo-secret ${base}/v3/orders?limit=2`,
      `  curl -s -X POST ${base}/token -d grant_type=client_credentials -d client_id=demo-client -d client_secret=demo-secret`,
      `  curl -s ${base}/health`,
      '',
    ].join('\n'),
  );
}
