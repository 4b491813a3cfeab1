import { Logger } from '@nestjs/common';
import { createSandboxApp } from './sandbox.app.js';
import { loadSandboxConfig, SandboxConfigError, type SandboxConfig } from './sandbox.config.js';

async function bootstrap(): Promise<void> {
  let config: SandboxConfig;
  try {
    config = loadSandboxConfig(process.env);
  } catch (error) {
    if (!(error instanceof SandboxConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const app = await createSandboxApp(config, { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  Logger.log(
    `V3 sandbox listening on http://${config.host}:${config.port} for clients ${Object.keys(config.clients).join(', ')}`,
    'Sandbox',
  );
}

await bootstrap();
