import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Test } from '@nestjs/testing';
import { type MetricObject, Registry, collectDefaultMetrics, register } from 'prom-client';
import { AppModule } from '../src/app.module';
import { AppConfig } from '../src/config/app-config';
import { KubeConnection } from '../src/modules/kube/kube-connection';
import { MetricsHttpModule } from '../src/modules/metrics/metrics-http.module';
import { MAC_COLLISIONS_METRIC } from '../src/modules/collisions/collisions.constants';
import {
  ALLOCATION_FAILURE_REASONS,
  ALLOCATION_FAILURES_METRIC,
  DUPLICATE_VM_MACS_METRIC,
  WEBHOOK_IN_FLIGHT_METRIC,
  WEBHOOK_LATENCY_METRIC,
  WEBHOOK_REQUESTS_METRIC,
} from '../src/modules/metrics/metrics.constants';

/** Where the document is committed, relative to the repository root. */
export const METRICS_DOC = 'docs/metrics.md';

/** One metric as the registry describes it. */
export interface MetricDescription {
  name: string;
  type: string;
  labels: string[];
  help: string;
  /** Upper bounds of a histogram's buckets. */
  buckets?: number[];
}

/**
 * Hand-written notes, by metric name: what the help text cannot say (how a series differs from upstream's, what a
 * label's values mean). Metrics without a note still get their row; a note for a metric the registry lacks fails.
 */
const NOTES: Readonly<Record<string, string>> = {
  [MAC_COLLISIONS_METRIC]: [
    "Upstream's gauge: one series per MAC that two or more running objects share (Running VMIs by",
    '`status.interfaces[].mac`, Running pods with `k8s.v1.cni.cncf.io/network-status` by their networks annotation),',
    'in namespaces the kind is managed in. The value is the number of those objects; the series is deleted when',
    'the collision clears (an object stops running, is deleted, leaves a managed namespace or changes its MAC).',
    'The two VMIs of one live migration are not a collision. See [collisions.md](collisions.md).',
  ].join('\n'),
  [DUPLICATE_VM_MACS_METRIC]: [
    "Upstream's name, kept so that the recording rules built on it (CNAO's `kubevirt_kmp_duplicate_macs` rules)",
    'keep working, with the semantics the product always documented rather than those upstream ships:',
    '',
    '- **Here**: a gauge, the number of MAC addresses that two or more VirtualMachine interfaces hold right now',
    '  (entries of `vm/…` owners in the pool: two VMs, or two interfaces of one VM found at rebuild). It is',
    '  recomputed live: it rises when a second VM is admitted with a MAC another VM holds (duplicate policy Warn),',
    '  and falls when one of them is deleted or changes its MAC, with no restart.',
    '- **Upstream** (v0.51): a counter, incremented once during the start-up rebuild for each VM interface MAC',
    '  already owned by another VM or pod; it never falls while the manager runs and starts again from 0 on',
    '  restart. A VM sharing a MAC with a pod is counted there, not here: that case shows in',
    '  `kubemacpool_pool_shared_macs`, and between running objects in `kmp_mac_collisions`.',
    '',
    'An expression such as `kubevirt_kmp_duplicate_macs > 0` works on both; `increase()` or `rate()` over it only',
    'makes sense upstream. Deprecated on both sides in favour of `kmp_mac_collisions`.',
  ].join('\n'),
  [WEBHOOK_LATENCY_METRIC]: [
    "controller-runtime's name, help text and buckets (10 ns × 10ⁿ, n = 0…11, up to 1,000 s), so dashboards and",
    'alerts written for upstream work unchanged. `webhook` is the path (`/mutate-pods`, `/mutate-virtualmachines`).',
    'Measured in the route handler, from the moment the parsed AdmissionReview reaches it to its answer;',
    "controller-runtime also counts reading the body. Upstream's native-histogram buckets are not exposed",
    '(prom-client has none). Upstream also serves `/healthz` and `/readyz` through its webhook server and',
    'labels them here; this manager serves them as plain routes and does not.',
  ].join('\n'),
  [WEBHOOK_REQUESTS_METRIC]: [
    '`code` is the HTTP status of the answer: `200` for every AdmissionReview answered, allowed or denied (the',
    'decision is inside the review, see `kmp_allocation_failures_total` for denials), `400` for a body that is',
    'not an AdmissionReview. `200` and `500` exist at 0 from the start, as in controller-runtime. Requests Fastify',
    'refuses before the handler (unparsable JSON, a body over 7 MiB) are not counted.',
  ].join('\n'),
  [WEBHOOK_IN_FLIGHT_METRIC]: 'Requests whose handler has started and not answered yet, by path.',
  [ALLOCATION_FAILURES_METRIC]: [
    'One increment per denied admission request (dry-run ones included), by the reason the denial names. Every',
    'reason exists at 0 from the start, so `increase()` sees the first failure. Reasons:',
    '',
    '| reason | meaning |',
    '|---|---|',
    ...Object.values(ALLOCATION_FAILURE_REASONS).map((r) => `| \`${r.reason}\` | ${r.description} |`),
  ].join('\n'),
  kubemacpool_certificate_not_after_timestamp_seconds: [
    '`ca`: the CA in the CA Secret, as this replica last read it from its watch; `serving`: the certificate this',
    "replica's HTTPS server presents, once loaded from its Secret. A series is absent while its certificate is",
    'unknown. Alert on `… - time() < 7 * 86400`.',
  ].join('\n'),
};

const HEADER = `# Metrics

Generated by \`npm run docs:metrics\` (scripts/metrics-doc.ts) from the manager's Prometheus registry: every
module of the application is built and every metric it registers is listed. Do not edit: change a metric's
definition (or a note in scripts/metrics-doc.ts) and re-run \`npm run docs:metrics\`; a unit test fails whenever
this file and the registry disagree.

Served at \`/metrics\` over HTTPS on \`METRICS_SECURE_ADDR\` (default \`:8443\`, upstream's \`--metrics-addr\`) to
bearer tokens the API server authenticates and authorises to \`get /metrics\`, and as plain HTTP on \`METRICS_ADDR\`
when that is set (off by default).
`;

/** The application's metrics and, apart, prom-client's Node.js process metrics, as the registry holds them. */
export async function registeredMetrics(): Promise<{
  own: MetricDescription[];
  process: MetricDescription[];
}> {
  const config = AppConfig.fromEnvironment({
    RANGE_START: '02:00:00:00:00:00',
    RANGE_END: '02:00:00:00:00:ff',
  });
  // Providers are built, never started (no lifecycle hooks run): nothing connects to this cluster.
  const connection = KubeConnection.fromSettings({
    source: 'kubeconfig',
    origin: 'docs:metrics',
    cluster: { name: 'none', server: 'https://127.0.0.1:1', skipTLSVerify: false },
    user: 'none',
  });
  const module = await Test.createTestingModule({ imports: [AppModule.forRoot(config), MetricsHttpModule] })
    .overrideProvider(KubeConnection)
    .useValue(connection)
    .compile();
  try {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const processNames = new Set(defaults.getMetricsAsArray().map((m) => m.name));
    const all = register
      .getMetricsAsArray()
      .map(describe)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return {
      own: all.filter((m) => !processNames.has(m.name)),
      process: all.filter((m) => processNames.has(m.name)),
    };
  } finally {
    await module.close();
  }
}

function describe(metric: MetricObject): MetricDescription {
  const { labelNames, upperBounds } = metric as MetricObject & {
    labelNames?: string[];
    upperBounds?: number[];
  };
  return {
    name: metric.name,
    type: String(metric.type),
    labels: [...(labelNames ?? [])],
    help: metric.help,
    ...(String(metric.type) === 'histogram' && upperBounds !== undefined
      ? { buckets: [...upperBounds] }
      : {}),
  };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => `\`${text}\``;

/** The document for these metrics. */
export function renderMetricsDoc(metrics: {
  own: readonly MetricDescription[];
  process: readonly MetricDescription[];
}): string {
  const names = new Set(metrics.own.map((m) => m.name));
  const orphans = Object.keys(NOTES).filter((name) => !names.has(name));
  if (orphans.length > 0) throw new Error(`notes for metrics that are not registered: ${orphans.join(', ')}`);

  const lines = [HEADER, '## Manager metrics', '', '| Name | Type | Labels | Help |', '|---|---|---|---|'];
  for (const m of metrics.own) {
    const name = NOTES[m.name] === undefined ? code(m.name) : `[${code(m.name)}](#${m.name})`;
    lines.push(`| ${name} | ${m.type} | ${m.labels.map(code).join(', ')} | ${cell(m.help)} |`);
  }
  lines.push('', '## Notes', '');
  for (const m of metrics.own) {
    const note = NOTES[m.name];
    if (note === undefined) continue;
    lines.push(`### ${m.name}`, '', note, '');
    if (m.buckets !== undefined) lines.push(`Buckets (seconds): ${m.buckets.map(String).join(', ')}.`, '');
  }
  lines.push(
    '## Node.js process metrics',
    '',
    "prom-client's default metrics (`collectDefaultMetrics`): CPU, memory, event-loop lag, GC, handles.",
    '',
    '| Name | Type | Labels | Help |',
    '|---|---|---|---|',
  );
  for (const m of metrics.process) {
    lines.push(`| ${code(m.name)} | ${m.type} | ${m.labels.map(code).join(', ')} | ${cell(m.help)} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** `npm run docs:metrics [-- --stdout]`: writes docs/metrics.md at the repository root, or prints it. */
async function main(argv: readonly string[]): Promise<void> {
  const doc = renderMetricsDoc(await registeredMetrics());
  if (argv.includes('--stdout')) {
    process.stdout.write(doc);
    return;
  }
  // npm runs scripts in the package root.
  const target = resolve(process.cwd(), METRICS_DOC);
  writeFileSync(target, doc);
  process.stdout.write(`wrote ${relative(process.cwd(), target)}\n`);
}

if (require.main === module) void main(process.argv.slice(2));
