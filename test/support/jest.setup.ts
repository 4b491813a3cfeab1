/**
 * Jest setup for both projects: keeps one known, harmless line off the test output. oidc-provider warns at import
 * that it wants Node 22+ ("Unsupported runtime"); the suite runs it on Node 20 on purpose (CI's machine), and
 * `npm run test:node24` on Node 24, where it says nothing. Every other warning passes through.
 */
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]): void => {
  if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider WARNING: Unsupported runtime')) return;
  warn(...args);
};
