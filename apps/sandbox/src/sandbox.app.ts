import formBody from '@fastify/formbody';
import type { NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SandboxModule } from './sandbox.module.js';
import type { SandboxOptions } from './sandbox.options.js';

/**
 * Creates the sandbox application on Fastify, with its body parsers (forms, JSON, and any other content type as
 * text), ready for `listen()`. Shared by `main.ts` and the tests' `startTokenServer()`.
 */
export async function createSandboxApp(
  options: SandboxOptions,
  nestOptions: NestApplicationOptions = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    SandboxModule.forRoot(options),
    new FastifyAdapter({ bodyLimit: 1024 * 1024 }),
    { ...nestOptions, bodyParser: false },
  );
  await app.register(formBody);
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  return app;
}
