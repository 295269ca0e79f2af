/**
 * `npm run test:reliability`: the fault matrix, the randomized property test, the leak gates
 * and the Redis crash test and example against a real redis-server (minutes, not seconds). CI
 * runs it after `npm test`.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/__tests__/reliability/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  collectCoverageFrom: undefined,
  coverageThreshold: undefined,
};
