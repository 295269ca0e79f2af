// A fast wrong answer is a failure: every run is checked against the expected count and
// checksum (and order, where the scenario demands it) before its time counts.

/** @returns {string | null} why the run is wrong, or null */
export function verifyRun(scenario, testCase, result, expected) {
  if (result.failure) return result.failure;
  if (scenario.verify) return scenario.verify(result, testCase);
  if (result.count !== expected.count) {
    return `wrong count: ${result.count} outputs, expected ${expected.count}`;
  }
  if (result.checksum !== expected.checksum) {
    return `wrong checksum: ${result.checksum}, expected ${expected.checksum}`;
  }
  if (result.misordered > 0) return `${result.misordered} outputs out of input order`;
  if (result.reportedCount !== undefined && result.reportedCount !== expected.count) {
    return `run() reported count ${result.reportedCount}, expected ${expected.count}`;
  }
  return null;
}
