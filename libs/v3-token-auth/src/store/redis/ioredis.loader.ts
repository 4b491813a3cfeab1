import type { Cluster, Redis } from 'ioredis';

/** The parts of `ioredis` the token store uses. */
export interface IoredisModule {
  Redis: typeof Redis;
  Cluster: typeof Cluster;
}

let loading: Promise<IoredisModule> | undefined;

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Loads `ioredis`, an optional peer dependency, the first time a Redis client is created (once per process). An app
 * that caches in process never loads it and need not install it; one that configures Redis without it gets an Error
 * saying what to install.
 * @example const { Redis } = await loadIoredis();
 */
export function loadIoredis(): Promise<IoredisModule> {
  loading ??= import('ioredis').then(
    ({ Redis, Cluster }): IoredisModule => ({ Redis, Cluster }),
    (error: unknown) => {
      loading = undefined;
      if (!isModuleNotFound(error)) throw error;
      throw new Error(
        'Redis is configured but the optional peer dependency ioredis is not installed: run ' +
          '`npm install ioredis@^6`, or leave out the redis option to cache tokens in process',
      );
    },
  );
  return loading;
}
