import { type BenchResult, type BenchSuite } from './harness';
import { certificatesSuite } from './certificates.bench';
import { poolSuite } from './pool.bench';
import { rebuildSuite } from './rebuild.bench';
import { webhookSuite } from './webhook.bench';

/**
 * `npm run bench` prints a table; `npm run bench -- --json` prints one JSON object per line,
 * `{"bench":"<suite>/<case>","value":<number>,"unit":"<unit>"}`. `--suite NAME` runs one suite.
 */
const suites: BenchSuite[] = [poolSuite, certificatesSuite, webhookSuite, rebuildSuite];

async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const only = argv.includes('--suite') ? argv[argv.indexOf('--suite') + 1] : undefined;
  const selected = suites.filter((suite) => only === undefined || suite.name === only);
  if (selected.length === 0)
    throw new Error(`no suite named ${only}; suites: ${suites.map((s) => s.name).join(', ')}`);
  const report = (result: BenchResult) => {
    if (json) {
      console.log(JSON.stringify({ bench: result.bench, value: result.value, unit: result.unit }));
    } else {
      const target = result.target === undefined ? '' : `  (target ${result.target})`;
      console.log(
        `${result.bench.padEnd(48)} ${result.value.toLocaleString('en-US').padStart(16)} ${result.unit}${target}`,
      );
    }
  };
  for (const suite of selected) await suite.run(report);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
