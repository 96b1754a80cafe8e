// Prints one plain closing line, `tests: N passed, N failed, N skipped`, that CI reads as the run's verdict
// (Jest's own summary is not a format it knows). With KMP_SUMMARY_FILE set, the counts are also appended to that file
// as one JSON line, so .ci/run can close with one line covering its runs on each Node.js version.
const { appendFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped`;
    process.stdout.write(`${line}\n`);
    if (process.env.KMP_SUMMARY_FILE) {
      const counts = {
        node: process.version,
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        skipped: results.numPendingTests,
        // Suites that failed outside any test (a syntax error, a failing beforeAll) count no failed test.
        failedSuites: results.numFailedTestSuites,
        runtimeErrorSuites: results.numRuntimeErrorTestSuites,
      };
      appendFileSync(process.env.KMP_SUMMARY_FILE, `${JSON.stringify(counts)}\n`);
    }
  }
}

module.exports = SummaryReporter;
