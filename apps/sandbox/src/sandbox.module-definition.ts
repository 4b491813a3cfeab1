import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SandboxOptions } from './sandbox.options.js';

export const { ConfigurableModuleClass: ConfigurableSandboxModule, MODULE_OPTIONS_TOKEN: SANDBOX_OPTIONS } =
  new ConfigurableModuleBuilder<SandboxOptions>().setClassMethodName('forRoot').build();
