import { Controller, Get, UseGuards, type INestApplication, type ModuleMetadata } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import {
  CurrentClient,
  Public,
  V3TokenAuthGuard,
  V3TokenAuthModule,
  type V3Principal,
  type V3TokenAuthModuleOptions,
} from 'nestjs-v3-token-auth';

/**
 * A guarded route (`GET /me`, answers the principal), the same behind Passport's own `AuthGuard('v3-token')`
 * (`GET /passport/me`) and an open one (`GET /open`), for e2e specs.
 */
@Controller()
export class GuardedController {
  @Get('me')
  @UseGuards(V3TokenAuthGuard)
  me(@CurrentClient() client: V3Principal): V3Principal {
    return client;
  }

  @Get('passport/me')
  @UseGuards(AuthGuard('v3-token'))
  viaPassport(@CurrentClient() client: V3Principal): V3Principal {
    return client;
  }

  @Get('open')
  @Public()
  @UseGuards(V3TokenAuthGuard)
  open(): { open: true } {
    return { open: true };
  }
}

export type HttpPlatform = 'express' | 'fastify';

/** A Nest app listening on 127.0.0.1, built around `V3TokenAuthModule`. */
export interface GuardedApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `GET /me` with the given Authorization header (none when undefined). */
  me(authorization?: string): Promise<HttpAnswer>;
  close(): Promise<void>;
}

/** One HTTP answer, read completely. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  body: Record<string, unknown> | undefined;
}

/** `Basic base64(id:secret)`. */
export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`, 'utf8').toString('base64')}`;
}

export { eventually, sleep } from './wait.js';

export async function httpGet(url: string, authorization?: string): Promise<HttpAnswer> {
  const response = await fetch(url, { headers: authorization === undefined ? {} : { authorization } });
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/**
 * Compiles `imports` with `controllers` (default `GuardedController`) on Express (the `Test` default) or Fastify and listens on
 * 127.0.0.1 port 0.
 */
export async function startGuardedApp(
  imports: NonNullable<ModuleMetadata['imports']>,
  platform: HttpPlatform = 'express',
  controllers: NonNullable<ModuleMetadata['controllers']> = [GuardedController],
): Promise<GuardedApp> {
  const moduleRef = await Test.createTestingModule({ imports, controllers }).compile();
  const app: INestApplication =
    platform === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as { address(): unknown }).address();
  if (address === null || typeof address !== 'object' || !('port' in address)) {
    throw new Error('the test app has no TCP address');
  }
  const url = `http://127.0.0.1:${String(address.port)}`;
  return { app, url, me: (authorization) => httpGet(`${url}/me`, authorization), close: () => app.close() };
}

/** Guarded apps importing `V3TokenAuthModule.forRoot`, remembered so a spec can close them all. */
export interface ModuleApps {
  /** Starts one app (one attempt per grant unless `options.retry` says otherwise). */
  start(options?: Partial<V3TokenAuthModuleOptions>): Promise<GuardedApp>;
  /** Closes every app started so far. */
  closeAll(): Promise<void>;
}

/** `tokenUrl` is read when an app starts, so it may name a server that a `beforeAll` starts later. */
export function moduleApps(tokenUrl: () => string): ModuleApps {
  const apps: GuardedApp[] = [];
  return {
    async start(options = {}) {
      const app = await startGuardedApp([
        V3TokenAuthModule.forRoot({ tokenUrl: tokenUrl(), retry: { attempts: 1 }, ...options }),
      ]);
      apps.push(app);
      return app;
    },
    async closeAll() {
      await Promise.all(apps.splice(0).map((app) => app.close()));
    },
  };
}
