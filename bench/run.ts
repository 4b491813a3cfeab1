import type { AutocannonRequest } from 'autocannon';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../test/support/free-port.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { chooseLoadGenerator, runBatch, runStampede, type LoadGenerator, type LoadSettings } from './load.js';
import { findNginx, startNginx, type NginxServer } from './nginx.js';
import {
  cpuTimeMs,
  forkServer,
  memoryOf,
  nodeVersion,
  spawnNodeService,
  type ChildServer,
} from './processes.js';
import {
  BASELINE,
  cpuBusyFraction,
  HELD_TO_TARGETS,
  READ_SIDE_BY_SIDE,
  evaluateTargets,
  machineInfo,
  renderMarkdown,
  renderSvg,
  type BenchResults,
  type ClientsPass,
  type ManyClientsResult,
  type StampedeResult,
} from './report.js';
import { stealMeter } from './cpu-steal.js';
import { baselineNeighbours, runOrder } from './run-order.js';
import {
  allowedCpus,
  corePlan,
  parseCpuList,
  pinProcess,
  sideBySideRounds,
  summariseSideBySide,
  type SideBySideSummary,
} from './side-by-side.js';
import { GATEWAY_NODE_OPTIONS, readSettings, serverNode } from './settings.js';
import { perRequestUs, summarise, type ConfigSummary, type RunSample } from './stats.js';
import { benchSecret, type GrantStats } from './token-endpoint.js';

/** One configuration under load: where the requests go and what they carry. */
interface Target {
  name: string;
  label: string;
  origin: string;
  requests: AutocannonRequest[];
  /** The process that serves it, whose CPU time per request is measured. */
  serverPid: number | undefined;
  /** redis-server's pid, where the requests reach Redis and its CPU time per request is measured too. */
  redisPid?: number;
}

const REQUEST_PATH = '/orders/items?limit=10';

/** A configuration served the bench's plain `GET` without credentials (the downstream, the proxies), by `serverPid`. */
function plainTarget(name: string, label: string, origin: string, serverPid: number | undefined): Target {
  return { name, label, origin, requests: [{ method: 'GET', path: REQUEST_PATH }], serverPid };
}
/** Share of CPU busy before the start above which the results carry a warning. */
const BUSY_MACHINE = 0.15;
const childrenDir = join(dirname(fileURLToPath(import.meta.url)), 'children');
const repoRoot = process.cwd();
const gatewayMain = resolve(repoRoot, process.env.BENCH_GATEWAY_MAIN ?? 'dist/apps/gateway/main.js');
const outDir = resolve(repoRoot, process.env.BENCH_OUT_DIR ?? 'bench/results');

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

const basic = (clientId: string): string =>
  `Basic ${Buffer.from(`${clientId}:${benchSecret(clientId)}`).toString('base64')}`;

function hotRequests(clientIds: readonly string[]): AutocannonRequest[] {
  return clientIds.map((id) => ({
    method: 'GET',
    path: REQUEST_PATH,
    headers: { authorization: basic(id) },
  }));
}

async function grantStats(
  tokenEndpoint: ChildServer,
  clientIds: readonly string[] = [],
): Promise<GrantStats> {
  const query = clientIds.length > 0 ? `?clients=${clientIds.map(encodeURIComponent).join(',')}` : '';
  const response = await fetch(`${tokenEndpoint.origin}/stats${query}`);
  return (await response.json()) as GrantStats;
}

async function redisInfo(redis: Redis, section: string, field: string): Promise<string> {
  const info = await redis.info(section);
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
}

/** Starts counting `pid`'s CPU time; the function returned gives the ms used since. */
function cpuMeter(pid: number | undefined): () => number {
  const before = cpuTimeMs(pid);
  return () => cpuTimeMs(pid) - before;
}

const redisHits = async (redis: Redis): Promise<number> =>
  Number(await redisInfo(redis, 'stats', 'keyspace_hits'));

/** Sends each of the target's requests once (so every client is granted before any measurement) and wants 200s. */
async function probe(target: Target): Promise<void> {
  for (const request of target.requests) {
    const response = await fetch(`${target.origin}${request.path ?? '/'}`, { headers: request.headers });
    const body = await response.text();
    if (response.status !== 200) {
      throw new Error(
        `${target.label} answered ${response.status} to a probe request: ${body.slice(0, 300)}`,
      );
    }
  }
}

async function bearerToken(gateway: ChildServer, clientId: string): Promise<string> {
  const response = await fetch(`${gateway.origin}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: benchSecret(clientId),
    }),
  });
  const body = (await response.json()) as { access_token?: unknown };
  if (response.status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(
      `POST /token on the gateway answered ${response.status}: ${JSON.stringify(body).slice(0, 300)}`,
    );
  }
  return body.access_token;
}

/**
 * Runs every target once per round, in the same order each round (A B C A B C …), with the baseline beside each
 * target the issue holds to a ratio (`runOrder`), and keeps each run with the baseline runs next to it.
 */
async function interleavedRounds(
  generator: LoadGenerator,
  targets: readonly Target[],
  rounds: number,
  load: LoadSettings,
  counters: { grants: () => Promise<number>; hits: () => Promise<number> },
): Promise<ConfigSummary[]> {
  const runs = new Map<string, RunSample[]>(targets.map((target) => [target.name, []]));
  const byName = new Map(targets.map((target) => [target.name, target]));
  const order = runOrder(
    targets.map((target) => target.name),
    rounds,
    BASELINE,
    HELD_TO_TARGETS,
  );
  const neighbours = baselineNeighbours(order, BASELINE);
  for (const [position, { name, round }] of order.entries()) {
    const target = byName.get(name)!;
    const [grantsBefore, hitsBefore] = [await counters.grants(), await counters.hits()];
    const serverCpu = cpuMeter(target.serverPid);
    const redisCpu = target.redisPid === undefined ? undefined : cpuMeter(target.redisPid);
    const result = await generator.run(target.origin, target.requests, load);
    const serverCpuUsPerRequest = perRequestUs(serverCpu(), result.requests);
    const redisCpuUsPerRequest = redisCpu && perRequestUs(redisCpu(), result.requests);
    const [grantsAfter, hitsAfter] = [await counters.grants(), await counters.hits()];
    runs.get(target.name)!.push({
      ...result,
      grants: grantsAfter - grantsBefore,
      redisHits: hitsAfter - hitsBefore,
      serverCpuUsPerRequest,
      ...(redisCpuUsPerRequest === undefined ? {} : { redisCpuUsPerRequest }),
      ...(neighbours[position].length > 0 ? { baselineRuns: neighbours[position] } : {}),
    });
    log(
      `round ${round}/${rounds} ${target.label}: ${Math.round(result.requestsPerSecond)} req/s, ` +
        `p99 ${result.p99Ms} ms, CPU ${serverCpuUsPerRequest.toFixed(1)} µs/req` +
        `${redisCpuUsPerRequest === undefined ? '' : ` (+ Redis ${redisCpuUsPerRequest.toFixed(1)})`}, ` +
        `non-2xx ${result.non2xx}, errors ${result.errors}`,
    );
  }
  return targets.map((target) => summarise(target.name, target.label, runs.get(target.name)!));
}

/**
 * Measures each configuration held to a target side by side with the baseline on one core (`side-by-side.ts`): the
 * two servers pinned to the last CPU the bench may use, this process (so its load generators) and the `helpers` to
 * the others, and every process given back the CPUs it had, however the phase ends. Without a second CPU or
 * taskset, or when a run fails, it notes why and the bench goes on without the reading.
 */
async function sideBySideReadings(
  generator: LoadGenerator,
  targets: readonly Target[],
  helpers: ReadonlyArray<number | undefined>,
  rounds: number,
  load: LoadSettings,
  notes: string[],
): Promise<SideBySideSummary[] | undefined> {
  const skip = (why: string): undefined => {
    notes.push(`no side-by-side reading: ${why}.`);
    log(notes[notes.length - 1]);
    return undefined;
  };
  const baseline = targets.find((target) => target.name === BASELINE);
  const measured = targets.filter((target) => READ_SIDE_BY_SIDE.has(target.name));
  if (baseline === undefined || measured.length === 0) return undefined;
  const plan = corePlan(parseCpuList(allowedCpus(process.pid) ?? ''));
  if (plan === undefined) return skip('the bench may use only one CPU');
  const servers = [...new Set([baseline, ...measured].map((target) => target.serverPid))];
  const rest = [process.pid, ...helpers];
  const before: Array<{ pid: number; cpus: string }> = [];
  const pin = (pid: number | undefined, cpuList: string): boolean => {
    if (pid === undefined) return true;
    const cpus = allowedCpus(pid);
    if (cpus === undefined) return false;
    before.push({ pid, cpus });
    return pinProcess(pid, cpuList);
  };
  try {
    if (!rest.every((pid) => pin(pid, plan.rest)) || !servers.every((pid) => pin(pid, plan.servers))) {
      return skip('taskset (util-linux) is missing or refused to pin a process');
    }
    const readings: SideBySideSummary[] = [];
    for (const target of measured) {
      const runs = await sideBySideRounds(rounds, async (side) => {
        const server = side === 'baseline' ? baseline : target;
        const serverCpu = cpuMeter(server.serverPid);
        const result = await generator.run(server.origin, server.requests, load);
        return {
          requests: result.requests,
          cpuMs: serverCpu(),
          non2xx: result.non2xx,
          errors: result.errors,
        };
      });
      const reading = summariseSideBySide(target.name, target.label, runs);
      log(
        `side by side on CPU ${plan.servers}: ${target.label} ${reading.configurationUs.toFixed(1)} µs/req, ` +
          `baseline ${reading.baselineUs.toFixed(1)} µs/req: ${reading.cpuRatio.toFixed(3)}× ` +
          `(rounds ${reading.lowestRatio.toFixed(3)}–${reading.highestRatio.toFixed(3)})`,
      );
      readings.push(reading);
    }
    return readings;
  } catch (error) {
    return skip(`a run failed (${String(error).slice(0, 300)})`);
  } finally {
    for (const { pid, cpus } of before.reverse()) pinProcess(pid, cpus);
  }
}

async function warmUp(
  generator: LoadGenerator,
  targets: readonly Target[],
  seconds: number,
  connections: number,
): Promise<void> {
  if (seconds <= 0) return;
  for (const target of targets)
    await generator.run(target.origin, target.requests, { connections, durationSeconds: seconds });
}

/** Starts nginx (one worker) in front of `upstream`; without nginx, or when it fails to start, notes why and skips it. */
async function startNginxIfAny(upstream: string, notes: string[]): Promise<NginxServer | undefined> {
  const binary = findNginx();
  if (!binary) {
    notes.push(
      'no nginx on PATH or in /usr/sbin (apt-get install nginx-light): its reference row is skipped.',
    );
    log(notes[notes.length - 1]);
    return undefined;
  }
  try {
    return await startNginx(binary, upstream, await freePort());
  } catch (error) {
    notes.push(
      `nginx (${binary}) did not start, its reference row is skipped: ${String(error).slice(0, 300)}`,
    );
    log(notes[notes.length - 1]);
    return undefined;
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  const generator = chooseLoadGenerator();
  const node = serverNode();
  const nodeUsed = nodeVersion(node);
  const load: LoadSettings = { connections: settings.connections, durationSeconds: settings.durationSeconds };
  const notes: string[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanUp = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    cleanups.length = 0;
  };
  const interrupted = (): void => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const date = new Date();
  const busyBeforeStart = await cpuBusyFraction();
  if (busyBeforeStart > BUSY_MACHINE) {
    notes.push(
      `${Math.round(busyBeforeStart * 100)}% of the CPU was busy before the bench started: other processes compete ` +
        'with the servers and the load generator, so these numbers are noisy. Run it on an idle machine.',
    );
    log(notes[notes.length - 1]);
  }
  let results: BenchResults;
  try {
    log(
      `load generator ${generator.name}; servers on Node ${nodeUsed}; starting a private redis-server, the token ` +
        'endpoint, the downstream and the proxies',
    );
    const redisServer = await startRedisServer();
    cleanups.push(() => redisServer.stop());
    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    cleanups.push(() => redis.quit());
    const tokenEndpoint = await forkServer(
      'token endpoint',
      join(childrenDir, 'token-endpoint.js'),
      { BENCH_GRANT_DELAY_MS: String(settings.grantDelayMs) },
      node,
    );
    cleanups.push(() => tokenEndpoint.stop());
    const downstream = await forkServer('downstream', join(childrenDir, 'downstream.js'), {}, node);
    cleanups.push(() => downstream.stop());
    const upstreamEnv = { BENCH_UPSTREAM: downstream.origin };
    const thinNode = await forkServer(
      'thinnest Node proxy',
      join(childrenDir, 'thin-node-proxy.js'),
      upstreamEnv,
      node,
    );
    cleanups.push(() => thinNode.stop());
    const bareProxy = await forkServer('bare proxy', join(childrenDir, 'bare-proxy.js'), upstreamEnv, node);
    cleanups.push(() => bareProxy.stop());
    const bareUndici = await forkServer(
      'bare undici proxy',
      join(childrenDir, 'bare-undici-proxy.js'),
      upstreamEnv,
      node,
    );
    cleanups.push(() => bareUndici.stop());
    const nginx = await startNginxIfAny(downstream.origin, notes);
    if (nginx) cleanups.push(() => nginx.stop());

    const targets: Target[] = [
      plainTarget('direct', 'downstream, direct', downstream.origin, downstream.child.pid),
      plainTarget(
        'thin-node',
        'thinnest Node proxy, node:http + undici (no auth; the baseline)',
        thinNode.origin,
        thinNode.child.pid,
      ),
      ...(nginx
        ? [
            plainTarget(
              'nginx',
              'nginx, one worker, keep-alive upstream (no auth)',
              nginx.origin,
              nginx.workerPid,
            ),
          ]
        : []),
      plainTarget(
        'bare-proxy',
        'Fastify + @fastify/reply-from (no auth)',
        bareProxy.origin,
        bareProxy.child.pid,
      ),
      plainTarget(
        'bare-undici',
        'Fastify + undici’s Pool.stream() (no auth)',
        bareUndici.origin,
        bareUndici.child.pid,
      ),
    ];
    const hotClients = Array.from({ length: settings.hotClients }, (_, i) => `bench-hot-${i + 1}`);
    const bearerClient = 'bench-bearer';
    const gatewayMeasured = existsSync(gatewayMain);
    /** redis-server's pid: its CPU is measured on the Redis-hit path, and it keeps the load's CPUs side by side. */
    const redisPid = Number(await redisInfo(redis, 'server', 'process_id')) || undefined;
    let gatewayA: ChildServer | undefined;
    let gatewayB: ChildServer | undefined;

    if (gatewayMeasured) {
      const hmacKey = randomBytes(32).toString('hex');
      const gatewayEnv = (port: number, extra: Record<string, string> = {}): Record<string, string> => ({
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        V3_TOKEN_URL: `${tokenEndpoint.origin}/token`,
        REDIS_URL: redisServer.url,
        TOKEN_CACHE_HMAC_KEY: hmacKey,
        GATEWAY_ROUTES: `/orders=${downstream.origin}`,
        // The cold stampede sends all its requests for one client at once: the per-client in-flight cap (a guard
        // against one tenant taking a pool) would answer the excess 429, which is not what the stampede measures.
        GATEWAY_MAX_INFLIGHT_PER_CLIENT: '0',
        // The 100,000-client phase makes 100,000 cold grants from this one address: a load test, not an attack, so
        // the per-address cap on cold grants (a guard for the issuer's capacity) is off.
        TOKEN_COLD_GRANTS_PER_ADDRESS_PER_MINUTE: '0',
        LOG_LEVEL: 'warn',
        NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS ?? GATEWAY_NODE_OPTIONS,
        ...extra,
      });
      log(`starting two gateway instances (${relative(repoRoot, gatewayMain)}) on the shared Redis`);
      const portA = await freePort();
      gatewayA = await spawnNodeService(
        'gateway',
        gatewayMain,
        portA,
        gatewayEnv(portA),
        '/health',
        30_000,
        node,
      );
      cleanups.push(() => gatewayA!.stop());
      const portB = await freePort();
      gatewayB = await spawnNodeService(
        'gateway (TOKEN_MEMORY_CACHE=false)',
        gatewayMain,
        portB,
        gatewayEnv(portB, { TOKEN_MEMORY_CACHE: 'false' }),
        '/health',
        30_000,
        node,
      );
      cleanups.push(() => gatewayB!.stop());
      const besideApp = async (thread: 'isolate' | 'worker'): Promise<ChildServer> => {
        const child = await forkServer(
          `thinnest Node proxy beside the gateway's app (${thread})`,
          join(childrenDir, 'thin-proxy-beside-app.js'),
          {
            ...gatewayEnv(await freePort()),
            ...upstreamEnv,
            BENCH_GATEWAY_DIR: dirname(gatewayMain),
            BENCH_PROXY_THREAD: thread,
          },
          node,
        );
        cleanups.push(() => child.stop());
        return child;
      };
      const thinBesideApp = await besideApp('isolate');
      const thinWorkerBesideApp = await besideApp('worker');
      const token = await bearerToken(gatewayA, bearerClient);
      targets.push(
        plainTarget(
          'thin-beside-app',
          'thinnest Node proxy, in one isolate with the gateway’s idle app (no auth)',
          thinBesideApp.origin,
          thinBesideApp.child.pid,
        ),
        plainTarget(
          'thin-worker-beside-app',
          'thinnest Node proxy, in a worker thread beside the gateway’s idle app (no auth)',
          thinWorkerBesideApp.origin,
          thinWorkerBesideApp.child.pid,
        ),
        {
          name: 'gateway-basic',
          label: 'gateway, Basic (warm)',
          origin: gatewayA.origin,
          requests: hotRequests(hotClients),
          serverPid: gatewayA.child.pid,
        },
        {
          name: 'gateway-bearer',
          label: 'gateway, Bearer token',
          origin: gatewayA.origin,
          requests: [{ method: 'GET', path: REQUEST_PATH, headers: { authorization: `Bearer ${token}` } }],
          serverPid: gatewayA.child.pid,
        },
        {
          name: 'gateway-redis',
          label: 'gateway, Redis hit per request',
          origin: gatewayB.origin,
          requests: hotRequests(hotClients),
          serverPid: gatewayB.child.pid,
          redisPid,
        },
      );
    } else {
      notes.push(
        `${relative(repoRoot, gatewayMain)} does not exist (run npm run build): only direct and the proxies were measured.`,
      );
      log(notes[notes.length - 1]);
    }
    const bootMemory = memoryOf(gatewayA?.child.pid);

    for (const target of targets) await probe(target);
    log(`warm-up: ${settings.warmupSeconds} s per configuration`);
    await warmUp(generator, targets, settings.warmupSeconds, settings.connections);
    const counters = {
      grants: async () => (await grantStats(tokenEndpoint)).total,
      hits: () => redisHits(redis),
    };
    const steal = stealMeter();
    const configs = await interleavedRounds(generator, targets, settings.rounds, load, counters);
    const stealDuringRounds = steal();
    log('side by side with the baseline on one core');
    const sideBySide = await sideBySideReadings(
      generator,
      targets,
      [downstream.child.pid, tokenEndpoint.child.pid, redisPid],
      settings.rounds,
      load,
      notes,
    );
    const afterRunsMemory = memoryOf(gatewayA?.child.pid);
    const redisPath = configs.find((config) => config.name === 'gateway-redis');
    if (redisPath && redisPath.redisHitsPerRequest < 0.5) {
      notes.push(
        `the TOKEN_MEMORY_CACHE=false instance made ${redisPath.redisHitsPerRequest.toFixed(2)} Redis hits per request: ` +
          'it seems to keep its in-process cache, so its row is not the Redis-hit path.',
      );
    }

    let stampede: StampedeResult | undefined;
    if (gatewayA && gatewayB && settings.stampedeRequests > 0) {
      const client = 'bench-stampede';
      log(`cold stampede: ${settings.stampedeRequests} concurrent requests of one client over two instances`);
      const batch = await runStampede(
        [gatewayA.origin, gatewayB.origin],
        REQUEST_PATH,
        settings.stampedeRequests,
        {
          authorization: basic(client),
        },
      );
      const grants = (await grantStats(tokenEndpoint, [client])).byClient[client];
      stampede = {
        requests: settings.stampedeRequests,
        instances: 2,
        ok: batch.ok,
        statuses: batch.statuses,
        grants,
        durationMs: batch.durationMs,
      };
      log(`stampede: ${grants} grant(s), statuses ${JSON.stringify(batch.statuses)}`);
    }

    let manyClients: ManyClientsResult | undefined;
    if (gatewayA && settings.distinctClients > 0) {
      const gateway = gatewayA;
      const clientHeaders = (i: number): Record<string, string> => ({
        authorization: basic(`bench-client-${i}`),
      });
      const pass = async (label: string): Promise<ClientsPass> => {
        const [grantsBefore, hitsBefore] = [await counters.grants(), await counters.hits()];
        const batch = await runBatch(
          gateway.origin,
          REQUEST_PATH,
          settings.distinctClients,
          settings.clientConcurrency,
          clientHeaders,
        );
        const [grantsAfter, hitsAfter] = [await counters.grants(), await counters.hits()];
        const result = {
          ok: batch.ok,
          statuses: batch.statuses,
          grants: grantsAfter - grantsBefore,
          redisHits: hitsAfter - hitsBefore,
          durationMs: batch.durationMs,
        };
        log(
          `${label}: ${result.grants} grants, ${result.redisHits} Redis hits, statuses ${JSON.stringify(batch.statuses)} in ${Math.round(batch.durationMs)} ms`,
        );
        return result;
      };
      log(`serving ${settings.distinctClients} distinct clients (${settings.clientConcurrency} in flight)`);
      const firstPass = await pass('distinct clients, first pass');
      const secondPass = await pass('distinct clients, second pass');
      const memory = memoryOf(gateway.child.pid);
      const hot = targets.filter((target) => target.name === BASELINE || target.name === 'gateway-basic');
      log('measuring the hot clients again, beside the thinnest Node proxy');
      await warmUp(generator, hot, settings.warmupSeconds, settings.connections);
      const [baselineAfter, hotAfter] = await interleavedRounds(
        generator,
        hot,
        settings.rounds,
        load,
        counters,
      );
      manyClients = {
        clients: settings.distinctClients,
        firstPass,
        secondPass,
        redisKeys: await redis.dbsize(),
        rssMb: memory.rssMb,
        peakRssMb: memoryOf(gateway.child.pid).peakRssMb,
        hotAfter: {
          ...hotAfter,
          label: `gateway, Basic, after ${settings.distinctClients.toLocaleString('en-US')} clients`,
        },
        baselineAfter: {
          ...baselineAfter,
          label: `thinnest Node proxy, after ${settings.distinctClients.toLocaleString('en-US')} clients`,
        },
      };
    }

    const reused = gatewayMeasured ? [...hotClients, bearerClient] : [];
    const finalGrants = await grantStats(tokenEndpoint, reused);
    const finalMemory = memoryOf(gatewayA?.child.pid);
    results = {
      date: date.toISOString(),
      machine: {
        ...machineInfo(
          await redisInfo(redis, 'server', 'redis_version'),
          busyBeforeStart,
          nodeUsed,
          generator.name,
        ),
        ...(stealDuringRounds === undefined ? {} : { stealDuringRounds }),
      },
      settings,
      gatewayMeasured,
      configs,
      grants: {
        total: finalGrants.total,
        perReusedClient: finalGrants.byClient,
        duringMeasuredRuns: configs.reduce((total, config) => total + config.grants, 0),
      },
      memory: {
        bootRssMb: bootMemory.rssMb,
        afterRunsRssMb: afterRunsMemory.rssMb,
        peakRssMb: finalMemory.peakRssMb,
      },
      stampede,
      manyClients,
      ...(sideBySide === undefined ? {} : { sideBySide }),
      notes,
    };
  } finally {
    log('stopping everything the bench started');
    await cleanUp();
  }

  const verdicts = evaluateTargets(results);
  const markdown = renderMarkdown(results, verdicts);
  const stem = date.toISOString().slice(0, 19).replace(/:/g, '-');
  const chartConfigs = results.manyClients
    ? [...results.configs, results.manyClients.hotAfter]
    : results.configs;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, `${stem}.json`),
    `${JSON.stringify({ ...results, targets: verdicts }, null, 2)}\n`,
  );
  writeFileSync(join(outDir, `${stem}.md`), markdown);
  writeFileSync(
    join(outDir, `${stem}.svg`),
    renderSvg(chartConfigs, `V3 gateway benchmark, ${results.date.slice(0, 10)}`),
  );
  process.stdout.write(`\n${markdown}\n`);
  log(`results: ${relative(repoRoot, join(outDir, stem))}.{json,md,svg}`);
  if (process.env.BENCH_STRICT === '1' && verdicts.some((verdict) => !verdict.pass)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
