import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import { TokenStore } from '../store/token-store.interface.js';
import { V3TokenAuthModule } from './v3-token-auth.module.js';
import type { V3TokenAuthModuleOptions } from './v3-token-auth.options.js';
import { V3TokenAuthGuard } from '../auth/v3-token-auth.guard.js';
import { V3TokenService } from '../core/v3-token.service.js';

const options: V3TokenAuthModuleOptions = { tokenUrl: 'http://127.0.0.1:9/token' };

@Injectable()
class OptionsFactory {
  create(): V3TokenAuthModuleOptions {
    return options;
  }
}

@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class OptionsModule {}

describe('V3TokenAuthModule', () => {
  let context: INestApplicationContext | undefined;
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function compile(module: ReturnType<typeof V3TokenAuthModule.forRoot>) {
    const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
    context = await moduleRef.init();
    return moduleRef;
  }

  it('compiles with forRoot and provides the service, guard and an in-memory store', async () => {
    const moduleRef = await compile(V3TokenAuthModule.forRoot(options));
    expect(moduleRef.get(V3TokenService)).toBeInstanceOf(V3TokenService);
    expect(moduleRef.get(V3TokenAuthGuard)).toBeInstanceOf(V3TokenAuthGuard);
    expect(moduleRef.get(TokenStore)).toBeInstanceOf(MemoryTokenStore);
    expect(moduleRef.get(V3TokenService).health()).toEqual({ store: 'memory', issuer: 'closed' });
  });

  it('compiles with forRootAsync useFactory', async () => {
    const moduleRef = await compile(
      V3TokenAuthModule.forRootAsync({
        imports: [OptionsModule],
        inject: [OptionsFactory],
        useFactory: (f: OptionsFactory) => f.create(),
      }),
    );
    expect(moduleRef.get(V3TokenService)).toBeInstanceOf(V3TokenService);
  });

  it('compiles with forRootAsync useClass', async () => {
    const moduleRef = await compile(V3TokenAuthModule.forRootAsync({ useClass: OptionsFactory }));
    expect(moduleRef.get(V3TokenService)).toBeInstanceOf(V3TokenService);
  });

  it('compiles with forRootAsync useExisting', async () => {
    const moduleRef = await compile(
      V3TokenAuthModule.forRootAsync({ imports: [OptionsModule], useExisting: OptionsFactory }),
    );
    expect(moduleRef.get(V3TokenService)).toBeInstanceOf(V3TokenService);
  });

  it('uses a store it is given and leaves it open on shutdown', async () => {
    const store = new MemoryTokenStore();
    await store.set(
      'k',
      {
        accessToken: 'a',
        tokenType: 'Bearer',
        issuedAt: 0,
        expiresAt: Date.now() + 60_000,
        clientId: 'c',
        verifier: 'v',
      },
      60_000,
    );
    const moduleRef = await compile(V3TokenAuthModule.forRoot({ ...options, store }));
    expect(moduleRef.get(TokenStore)).toBe(store);
    await context?.close();
    context = undefined;
    expect(await store.get('k')).toMatchObject({ accessToken: 'a' });
  });

  it('stops boot with a message naming a bad option', async () => {
    await expect(compile(V3TokenAuthModule.forRoot({ tokenUrl: 'nope' }))).rejects.toThrow(
      /"tokenUrl" is not a valid URL/,
    );
  });
});
