/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  collectCoverageFrom: ['src/**/*.ts'],
  coverageThreshold: { global: { lines: 90, statements: 90, functions: 90, branches: 80 } },
  coverageReporters: ['text-summary', 'lcov'],
  testTimeout: 10000,
  setupFilesAfterEnv: ['<rootDir>/__tests__/support/leak-check.ts'],
};
