import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { V3Principal } from '../v3-token.interfaces.js';

/**
 * The authenticated caller (`request.user`), or one of its fields.
 * @example handler(@CurrentClient() client: V3Principal, @CurrentClient('clientId') id: string)
 */
export const CurrentClient = createParamDecorator(
  (field: keyof V3Principal | undefined, context: ExecutionContext): unknown => {
    const principal = context.switchToHttp().getRequest<{ user?: V3Principal }>().user;
    return field ? principal?.[field] : principal;
  },
);
