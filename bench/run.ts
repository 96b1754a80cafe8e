import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { managerNodeFlags } from '../test/support/manager-process';
import { type BenchResult, type BenchSuite } from './harness';
import { certificatesSuite } from './certificates.bench';
import { poolSuite } from './pool.bench';
import { rebuildSuite } from './rebuild.bench';
import { guardedSuite } from './guarded.bench';
import { webhookSuite } from './webhook.bench';

/**
 * `npm run bench` prints a table; `npm run bench -- --json` prints one JSON object per line,
 * `{"bench":"<suite>/<case>","value":<number>,"unit":"<unit>"}`. `--suite NAME` runs one suite; `--sizes
 * empty,10k,50k` picks the cluster sizes of the rebuild suite (all by default).
 *
 * The webhook suite runs the manager inside the benchmark process, so it runs in child processes: once with the
 * Node.js flags `npm start` ships (reported as `webhook/…`) and once without them (`webhook-without-start-flags/…`),
 * one after the other in the same run, so what those flags cost or save in admission is printed next to each other.
 */
const suites: BenchSuite[] = [poolSuite, certificatesSuite, webhookSuite, rebuildSuite, guardedSuite];

/** Set in the webhook suite's child processes. */
const CHILD_FLAG = '--webhook-child';

/** Runs the webhook suite in a child node with `flags` (plus the runner's own), reporting under `label`. */
async function webhookInChild(
  flags: readonly string[],
  label: string,
  report: (result: BenchResult) => void,
): Promise<void> {
  console.error(
    `bench: the webhook suite with node ${flags.join(' ') || '(no start flags)'}, reported as ${label}/`,
  );
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...flags, __filename, '--suite', 'webhook', '--json', CHILD_FLAG],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  for await (const line of createInterface({ input: child.stdout })) {
    let result: Partial<BenchResult> | undefined;
    try {
      result = JSON.parse(line) as Partial<BenchResult>;
    } catch {
      result = undefined;
    }
    // Anything but a result (a library's own output) goes to stderr, as it would without the child.
    if (typeof result?.bench !== 'string') console.error(line);
    else report({ ...(result as BenchResult), bench: result.bench.replace(/^webhook\//, `${label}/`) });
  }
  const code = await exited;
  if (code !== 0) throw new Error(`the webhook suite (${label}) exited with ${code}`);
}

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
  const startFlags = managerNodeFlags();
  for (const suite of selected) {
    if (suite === webhookSuite && !argv.includes(CHILD_FLAG) && startFlags.length > 0) {
      await webhookInChild(startFlags, 'webhook', report);
      await webhookInChild([], 'webhook-without-start-flags', report);
    } else {
      await suite.run(report, argv);
    }
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
