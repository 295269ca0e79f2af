/**
 * `npm test`: every suite but the heavy randomized and leak runs of __tests__/reliability/,
 * which `npm run test:reliability` (and CI) runs with jest.reliability.config.js.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__tests__/reliability/'],
  collectCoverageFrom: ['src/**/*.ts'],
  coverageThreshold: { global: { lines: 90, statements: 90, functions: 90, branches: 80 } },
  coverageReporters: ['text-summary', 'lcov'],
  testTimeout: 10000,
  setupFilesAfterEnv: ['<rootDir>/__tests__/support/leak-check.ts'],
};
