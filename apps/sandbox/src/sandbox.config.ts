import { z } from 'zod';
import type { SandboxOptions } from './sandbox.options.js';

/** The sandbox's options plus where it listens, as read from the environment. */
export interface SandboxConfig extends SandboxOptions {
  port: number;
  host: string;
}

/** A bad environment value. The message is one line: the variable, what is wrong, how to fix it. */
export class SandboxConfigError extends Error {
  override readonly name = 'SandboxConfigError';
}

const PAIR_LIST = /^[^:,\s]+:[^,]+(,[^:,\s]+:[^,]+)*$/;

function pairs(variable: string, example: string) {
  return z
    .string()
    .trim()
    .regex(PAIR_LIST, `${variable} must be comma-separated name:secret pairs, e.g. ${variable}=${example}`)
    .transform((value) =>
      Object.fromEntries(
        value.split(',').map((pair) => {
          const colon = pair.indexOf(':');
          return [pair.slice(0, colon).trim(), pair.slice(colon + 1)];
        }),
      ),
    );
}

function integer(variable: string, min: number, max: number, example: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, `${variable} must be a whole number from ${min} to ${max}, e.g. ${variable}=${example}`)
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, `${variable} must be at least ${min}, e.g. ${variable}=${example}`)
        .max(max, `${variable} must be at most ${max}, e.g. ${variable}=${example}`),
    );
}

const schema = z.object({
  SANDBOX_PORT: integer('SANDBOX_PORT', 0, 65535, 3001).default(3001),
  SANDBOX_HOST: z
    .string()
    .trim()
    .regex(/^[\w.:-]+$/, 'SANDBOX_HOST must be a host name or IP address, e.g. SANDBOX_HOST=0.0.0.0')
    .default('127.0.0.1'),
  SANDBOX_CLIENTS: pairs('SANDBOX_CLIENTS', 'demo-client:demo-secret').default({
    'demo-client': 'demo-secret',
  }),
  SANDBOX_USERS: pairs('SANDBOX_USERS', 'jdoe:password').default({ jdoe: 'password' }),
  SANDBOX_TOKEN_TTL_SECONDS: integer('SANDBOX_TOKEN_TTL_SECONDS', 1, 86_400, 300).default(300),
  SANDBOX_REFRESH_TTL_SECONDS: integer('SANDBOX_REFRESH_TTL_SECONDS', 1, 2_592_000, 1800).default(1800),
  SANDBOX_JWT_SECRET: z
    .string()
    .min(32, 'SANDBOX_JWT_SECRET must be at least 32 characters; unset it to get a random key per boot')
    .optional(),
});

/**
 * Reads the sandbox's configuration from environment variables. Empty values count as unset.
 * @throws {SandboxConfigError} on the first bad value, naming the variable and the fix (never echoing a secret).
 * @example loadSandboxConfig({ SANDBOX_PORT: '3001', SANDBOX_CLIENTS: 'demo-client:demo-secret' })
 */
export function loadSandboxConfig(env: Record<string, string | undefined> = process.env): SandboxConfig {
  const present = Object.fromEntries(
    Object.keys(schema.shape)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const message = issue?.message.startsWith(variable) ? issue.message : `${variable}: ${issue?.message}`;
    throw new SandboxConfigError(message);
  }
  const config = parsed.data;
  return {
    port: config.SANDBOX_PORT,
    host: config.SANDBOX_HOST,
    clients: config.SANDBOX_CLIENTS,
    users: config.SANDBOX_USERS,
    tokenLifetimeSeconds: config.SANDBOX_TOKEN_TTL_SECONDS,
    refreshLifetimeSeconds: config.SANDBOX_REFRESH_TTL_SECONDS,
    jwtSecret: config.SANDBOX_JWT_SECRET,
  };
}
