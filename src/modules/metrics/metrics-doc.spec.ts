import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  METRICS_DOC,
  type MetricDescription,
  registeredMetrics,
  renderMetricsDoc,
} from '../../../scripts/metrics-doc';

describe('docs/metrics.md', () => {
  let metrics: { own: MetricDescription[]; process: MetricDescription[] };

  beforeAll(async () => {
    metrics = await registeredMetrics();
  });

  it('is what `npm run docs:metrics` renders from the registry (re-run it after changing a metric)', () => {
    const committed = readFileSync(join(__dirname, '../../..', METRICS_DOC), 'utf8');
    expect(committed).toBe(renderMetricsDoc(metrics));
  });

  it('lists the metrics every module registers, upstream names included, and the Node.js process metrics', () => {
    const names = metrics.own.map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'kubevirt_kmp_duplicate_macs',
        'controller_runtime_webhook_latency_seconds',
        'controller_runtime_webhook_requests_total',
        'controller_runtime_webhook_requests_in_flight',
        'kmp_allocation_failures_total',
        'kubemacpool_certificate_not_after_timestamp_seconds',
        'kubemacpool_certificate_reload_failures_total',
        'kubemacpool_pool_size',
        'kubemacpool_pool_used',
        'kubemacpool_pool_entries',
        'kubemacpool_pool_shared_macs',
      ]),
    );
    expect(metrics.process.map((m) => m.name)).toEqual(
      expect.arrayContaining(['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']),
    );
  });

  it('names every metric as Prometheus does: snake case, _total only on counters, base units, help text', () => {
    const problems: string[] = [];
    for (const m of metrics.own) {
      if (!/^[a-z][a-z0-9_]*$/.test(m.name)) problems.push(`${m.name}: not snake case`);
      if ((m.type === 'counter') !== m.name.endsWith('_total'))
        problems.push(`${m.name}: a ${m.type}; only counters end in _total`);
      if (/_(milliseconds|ms|microseconds|minutes|hours|kilobytes|megabytes|kib|mib)(_|$)/.test(m.name))
        problems.push(`${m.name}: not in a base unit (seconds, bytes)`);
      if (m.help.trim().length < 10) problems.push(`${m.name}: no help text`);
      for (const label of m.labels)
        if (!/^[a-z][a-z0-9_]*$/.test(label)) problems.push(`${m.name}: label ${label}`);
    }
    expect(problems).toEqual([]);
  });

  it('shows controller-runtime buckets for the webhook latency', () => {
    const latency = metrics.own.find((m) => m.name === 'controller_runtime_webhook_latency_seconds');
    expect(latency?.buckets).toEqual([1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000]);
  });

  it('refuses a note for a metric the registry does not have', () => {
    expect(() => renderMetricsDoc({ own: [], process: [] })).toThrow(
      /notes for metrics that are not registered/,
    );
  });
});
