import 'reflect-metadata';
import { ConfigService } from '@nestjs/config';
import { createGatewayApp } from './app.factory.js';
import { reportBootFailure } from './boot-failure.js';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway.config.js';

async function bootstrap(): Promise<void> {
  const app = await createGatewayApp();
  app.enableShutdownHooks();
  const { port, host } = app.get(ConfigService).getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
  await app.listen(port, host);
}

bootstrap().catch((error: unknown) => {
  process.exit(reportBootFailure(error, (line) => process.stderr.write(line)));
});
