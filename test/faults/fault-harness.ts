import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Headers, Res } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyReply } from 'fastify';
import {
  TokenStore,
  V3TokenAuthModule,
  V3TokenException,
  V3TokenService,
  type V3TokenAuthModuleOptions,
  type V3TokenAuthObserver,
} from 'nestjs-v3-token-auth';
import { createGatewayApp } from '../../apps/gateway/src/app.factory.js';
import { parseGatewayConfig } from '../../apps/gateway/src/config/gateway.config.js';
import { eventually } from '../support/v3-token-auth-app.js';

/** Shared HMAC key of every instance in a fault spec (instances that share Redis must share it). */
export const FAULT_HMAC_KEY = 'fault-suite-hmac-key-0123456789abcdef-0123';

/** The `POST /token` form of a `client_credentials` grant for a client of `secrets` (client id → secret). */
export const clientCredentialsForm =
  (secrets: Record<string, string>) =>
  (clientId: string): Record<string, string> => ({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: secrets[clientId],
  });

/** One HTTP answer, read completely, with the time it took. */
export interface TimedAnswer {
  status: number;
  headers: { get(name: string): string | null };
  text: string;
  /** The body parsed as JSON (undefined when it is not a JSON object). */
  body: Record<string, unknown> | undefined;
  ms: number;
}

async function read(response: Response, started: number): Promise<TimedAnswer> {
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body, ms: Date.now() - started };
}

/** A request with the given method, headers and body; never throws for an HTTP error status. */
export async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<TimedAnswer> {
  const started = Date.now();
  return read(
    await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body }),
    started,
  );
}

/**
 * A request through `node:http`, which sends any header value Node accepts (tab, visible ASCII, DEL, Latin-1; empty
 * too), where `fetch` refuses some of them.
 */
export function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<TimedAnswer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('error', reject);
      incoming.on('end', () => {
        const headers = {
          get: (name: string): string | null => {
            const value = incoming.headers[name.toLowerCase()];
            return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
          },
        };
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> | undefined;
        try {
          const parsed: unknown = JSON.parse(text);
          body =
            typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: incoming.statusCode ?? 0, headers, text, body, ms: Date.now() - started });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(init.body);
  });
}

/** A gateway built by `createGatewayApp` from an environment, listening on 127.0.0.1 port 0. */
export interface GatewayInstance {
  app: NestFastifyApplication;
  url: string;
  tokens: V3TokenService;
  /** `GET <path>` with an optional Authorization header. */
  get(path: string, authorization?: string): Promise<TimedAnswer>;
  /** `POST /token` with a form body (and optional extra headers). */
  token(form: Record<string, string>, headers?: Record<string, string>): Promise<TimedAnswer>;
  /** `GET /health`. */
  health(): Promise<TimedAnswer>;
  /** Reads one sample of `/metrics` (sum over samples whose labels include `labels`). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts the real gateway (`apps/gateway`) with `env` over a quiet test baseline. Waits for its Redis to be ready
 * when one is configured.
 */
export async function startGateway(env: Record<string, string | undefined>): Promise<GatewayInstance> {
  const config = parseGatewayConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env });
  const app = await createGatewayApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const tokens = app.get(V3TokenService);
  const instance: GatewayInstance = {
    app,
    url,
    tokens,
    get: (path, authorization) =>
      request(`${url}${path}`, { headers: authorization === undefined ? {} : { authorization } }),
    token: (form, headers = {}) =>
      request(`${url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form).toString(),
      }),
    health: () => request(`${url}/health`),
    metric: async (name, labels = {}) => metricValue((await request(`${url}/metrics`)).text, name, labels),
    close: () => app.close(),
  };
  if (config.redis && !(await eventually(() => tokens.health().store === 'up', 10_000))) {
    await app.close();
    throw new Error(`the gateway at ${url} did not reach its Redis within 10 s`);
  }
  return instance;
}

/** Sum of the Prometheus samples named `name` whose labels include every pair of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1], pair[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) sum += Number(match[3]);
  }
  return sum;
}

/** An observer that counts every event by `<hook>:<first argument>`, for module-level specs. */
export class CountingObserver implements V3TokenAuthObserver {
  readonly counts = new Map<string, number>();

  count(event: string): number {
    return this.counts.get(event) ?? 0;
  }

  private bump(event: string): void {
    this.counts.set(event, this.count(event) + 1);
  }

  grant(outcome: string): void {
    this.bump(`grant:${outcome}`);
  }
  cacheHit(tier: string): void {
    this.bump(`cacheHit:${tier}`);
  }
  lockWait(outcome: string): void {
    this.bump(`lockWait:${outcome}`);
  }
  breakerState(state: string): void {
    this.bump(`breaker:${state}`);
  }
  throttled(): void {
    this.bump('throttled');
  }
  storeError(operation: string): void {
    this.bump(`storeError:${operation}`);
  }
  refreshAhead(outcome: string): void {
    this.bump(`refreshAhead:${outcome}`);
  }
}

/** What a scripted token endpoint answers: status, headers and a raw body (anything, valid or not). */
export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
  /** Destroy the socket instead of answering. */
  drop?: boolean;
}

/** A token endpoint whose every answer is chosen by the test: for hostile issuer answers. */
export interface ScriptedIssuer {
  tokenUrl: string;
  /** Requests that reached it so far. */
  count: number;
  /** Form bodies of the requests, as received. */
  bodies: string[];
  /** The next answers (by request); `answer` is called with the received form. */
  answer: (form: URLSearchParams) => ScriptedAnswer;
  close(): Promise<void>;
}

export async function startScriptedIssuer(): Promise<ScriptedIssuer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      issuer.count += 1;
      issuer.bodies.push(body);
      const answer = issuer.answer(new URLSearchParams(body));
      if (answer.drop) {
        res.socket?.destroy();
        return;
      }
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer: ScriptedIssuer = {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    count: 0,
    bodies: [],
    answer: () => ({ status: 500, body: '' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return issuer;
}

/** A valid token answer with `accessToken`, as the scripted issuer sends it. */
export function validTokenAnswer(accessToken: string, expiresIn = 300): ScriptedAnswer {
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn }),
  };
}

/**
 * `GET /me`: authenticates with this app's own `V3TokenService`. Several Nest apps in one process share Passport's
 * global strategy registry (the last `V3TokenStrategy` constructed wins), so a multi-instance test must not go
 * through the guard to reach each instance's own service.
 */
@Controller()
class DirectAuthController {
  constructor(private readonly tokens: V3TokenService) {}

  @Get('me')
  async me(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object> {
    try {
      return await this.tokens.authenticate(authorization);
    } catch (error) {
      if (!(error instanceof V3TokenException)) throw error;
      void reply.code(error.getStatus()).headers(error.headers);
      return error.getResponse() as object;
    }
  }
}

/** A small Nest app (Fastify) importing `V3TokenAuthModule`: one "instance" of a multi-instance setup. */
export interface ModuleInstance {
  app: NestFastifyApplication;
  url: string;
  tokens: V3TokenService;
  /** The module's `TokenStore` (a `RedisTokenStore` when `redis` is set). */
  store: TokenStore;
  /** `GET /me` with an optional Authorization header, answered by this instance's own service. */
  me(authorization?: string): Promise<TimedAnswer>;
  close(): Promise<void>;
}

export async function startModuleApp(options: V3TokenAuthModuleOptions): Promise<ModuleInstance> {
  const moduleRef = await Test.createTestingModule({
    imports: [V3TokenAuthModule.forRoot(options)],
    controllers: [DirectAuthController],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
    logger: false,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const tokens = app.get(V3TokenService);
  if (options.redis && !(await eventually(() => tokens.health().store === 'up', 10_000))) {
    await app.close();
    throw new Error(`the module app at ${url} did not reach its Redis within 10 s`);
  }
  return {
    app,
    url,
    tokens,
    store: app.get<symbol, TokenStore>(TokenStore),
    me: (authorization) =>
      request(`${url}/me`, { headers: authorization === undefined ? {} : { authorization } }),
    close: () => app.close(),
  };
}
