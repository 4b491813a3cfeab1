import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Injectable,
  Module,
  type ConfigurableModuleOptionsFactory,
  type DynamicModule,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import {
  V3TokenAuthModule,
  V3TokenAuthOptionsError,
  type V3TokenAuthModuleOptions,
} from 'nestjs-v3-token-auth';
import { startTokenServer, type TokenServer } from './support/token-server.js';
import { GuardedController, basic, startGuardedApp, type GuardedApp } from './support/v3-token-auth-app.js';

const CLIENTS: Record<string, string> = {
  'factory-client': 'factory-secret',
  'class-client': 'class-secret',
  'existing-client': 'existing-secret',
  'global-client': 'global-secret',
};

/** The environment the app maps to module options, as `@nestjs/config` would read it. */
let environment: Record<string, string> = {};
const configModule = (): Promise<DynamicModule> =>
  ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => environment] });

function optionsFrom(config: ConfigService): V3TokenAuthModuleOptions {
  return {
    tokenUrl: config.getOrThrow<string>('V3_TOKEN_URL'),
    expirySkewSeconds: Number(config.get<string>('TOKEN_EXPIRY_SKEW_SECONDS') ?? 30),
    retry: { attempts: 1 },
  };
}

@Injectable()
class V3OptionsFactory implements ConfigurableModuleOptionsFactory<V3TokenAuthModuleOptions, 'create'> {
  constructor(private readonly config: ConfigService) {}

  create(): V3TokenAuthModuleOptions {
    return optionsFrom(this.config);
  }
}

describe('V3TokenAuthModule registration variants (real token endpoint)', () => {
  let issuer: TokenServer;
  const apps: GuardedApp[] = [];

  const start = async (module: DynamicModule | Promise<DynamicModule>): Promise<GuardedApp> => {
    const app = await startGuardedApp([module]);
    apps.push(app);
    return app;
  };

  const expectWorking = async (app: GuardedApp, clientId: string): Promise<void> => {
    const first = await app.me(basic(clientId, CLIENTS[clientId]));
    const second = await app.me(basic(clientId, CLIENTS[clientId]));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ clientId });
    expect(second.body?.accessToken).toBe(first.body?.accessToken);
    expect(issuer.issuer.grantCount(clientId)).toBe(1);
    expect((await app.me(basic(clientId, 'wrong'))).status).toBe(401);
  };

  beforeAll(async () => {
    issuer = await startTokenServer({ clients: CLIENTS });
    environment = { V3_TOKEN_URL: issuer.tokenUrl, TOKEN_EXPIRY_SKEW_SECONDS: '5' };
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  afterAll(() => issuer.close());

  it('forRootAsync with useFactory and inject of ConfigService', async () => {
    const app = await start(
      V3TokenAuthModule.forRootAsync({
        imports: [configModule()],
        inject: [ConfigService],
        useFactory: (config: ConfigService) => optionsFrom(config),
      }),
    );
    await expectWorking(app, 'factory-client');
  });

  it('forRootAsync with useClass (an options factory with create())', async () => {
    const app = await start(
      V3TokenAuthModule.forRootAsync({ imports: [configModule()], useClass: V3OptionsFactory }),
    );
    await expectWorking(app, 'class-client');
  });

  it('forRootAsync with useExisting (an options factory exported by another module)', async () => {
    @Module({ imports: [configModule()], providers: [V3OptionsFactory], exports: [V3OptionsFactory] })
    class V3OptionsModule {}

    const app = await start(
      V3TokenAuthModule.forRootAsync({ imports: [V3OptionsModule], useExisting: V3OptionsFactory }),
    );
    await expectWorking(app, 'existing-client');
  });

  it('forRoot with isGlobal serves guards of feature modules that do not import it', async () => {
    @Module({ controllers: [GuardedController] })
    class FeatureModule {}

    const app = await startGuardedApp(
      [V3TokenAuthModule.forRoot({ tokenUrl: issuer.tokenUrl, isGlobal: true }), FeatureModule],
      'express',
      [],
    );
    apps.push(app);
    const answer = await app.me(basic('global-client', CLIENTS['global-client']));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ clientId: 'global-client' });
  });

  it('stops at boot with an error naming a bad option from forRootAsync', async () => {
    const compiling = Test.createTestingModule({
      imports: [V3TokenAuthModule.forRootAsync({ useFactory: () => ({ tokenUrl: 'not a url' }) })],
      controllers: [GuardedController],
    }).compile();
    await expect(compiling).rejects.toThrow(V3TokenAuthOptionsError);
    await expect(compiling).rejects.toThrow(/option "tokenUrl" is not a valid URL/);
  });
});

describe('V3TokenAuthModule in several apps of one process', () => {
  let first: TokenServer;
  let second: TokenServer;
  const apps: GuardedApp[] = [];

  beforeAll(async () => {
    first = await startTokenServer({ clients: { shared: 'shared-secret' } });
    second = await startTokenServer({ clients: { shared: 'shared-secret' } });
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all([first.close(), second.close()]);
  });

  it('authenticates each app against its own module, although Passport keeps one strategy per name', async () => {
    const start = async (issuer: TokenServer) => {
      const app = await startGuardedApp(
        [V3TokenAuthModule.forRoot({ tokenUrl: issuer.tokenUrl, retry: { attempts: 1 } })],
        'fastify',
      );
      apps.push(app);
      return app;
    };
    const a = await start(first);
    const b = await start(second);
    const header = basic('shared', 'shared-secret');

    expect((await a.me(header)).status).toBe(200);
    expect(first.issuer.grantCount('shared')).toBe(1);
    expect(second.issuer.grantCount('shared')).toBe(0);

    expect((await b.me(header)).status).toBe(200);
    expect(second.issuer.grantCount('shared')).toBe(1);
    expect(first.issuer.grantCount('shared')).toBe(1);
  });
});
