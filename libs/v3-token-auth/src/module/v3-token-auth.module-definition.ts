import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { V3TokenAuthModuleOptions } from './v3-token-auth.options.js';

export const {
  ConfigurableModuleClass: V3TokenAuthConfigurableModule,
  MODULE_OPTIONS_TOKEN: V3_TOKEN_AUTH_MODULE_OPTIONS,
  OPTIONS_TYPE: V3_TOKEN_AUTH_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: V3_TOKEN_AUTH_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<V3TokenAuthModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
