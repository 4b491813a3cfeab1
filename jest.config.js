/** The options both projects share: ts-jest in ESM mode, the library resolved from its sources. */
const common = {
  rootDir: '.',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  setupFiles: ['<rootDir>/test/support/jest.setup.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  moduleNameMapper: {
    '^nestjs-v3-token-auth$': '<rootDir>/libs/v3-token-auth/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};

/**
 * Two projects: `unit` (specs beside the code, `*.spec.ts`: no Redis, no servers; `npm run test:unit`) and
 * `integration` (`*.e2e-spec.ts` under test/ and apps/<app>/test/: real redis-servers and token endpoints).
 * `npm test` runs both.
 */
export default {
  projects: [
    { ...common, displayName: 'unit', testRegex: '.*\\.spec\\.ts$' },
    { ...common, displayName: 'integration', testRegex: '.*\\.e2e-spec\\.ts$' },
  ],
  maxWorkers: 2,
  testTimeout: 30000,
};
