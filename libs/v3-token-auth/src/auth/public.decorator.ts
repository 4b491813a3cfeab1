import { SetMetadata } from '@nestjs/common';
import { IS_PUBLIC_KEY } from '../v3-token.constants.js';

/**
 * Opts a route or controller out of a global `V3TokenAuthGuard`.
 * @example @Public() @Get('health') health() {}
 */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);
