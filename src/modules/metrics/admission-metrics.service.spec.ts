import { Counter, Histogram, Registry } from 'prom-client';
import { MutationExceptionCode } from '../mutation/mutation.exception';
import { AdmissionMetrics } from './admission-metrics.service';
import { ALLOCATION_FAILURE_REASONS, WEBHOOK_LATENCY_BUCKETS } from './metrics.constants';

function metrics() {
  const registry = new Registry();
  const latency = new Histogram({
    name: 'latency_seconds',
    help: 'h',
    labelNames: ['webhook'],
    buckets: [...WEBHOOK_LATENCY_BUCKETS],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'requests_total',
    help: 'h',
    labelNames: ['webhook', 'code'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'failures_total',
    help: 'h',
    labelNames: ['reason'],
    registers: [registry],
  });
  return { admission: new AdmissionMetrics(latency, requests, failures), latency, requests, failures };
}

describe('AdmissionMetrics', () => {
  it('counts requests by path and code, times them and tracks those in flight', async () => {
    const { admission, latency, requests } = metrics();
    const pods = admission.webhook('/mutate-pods');
    expect(admission.webhook('/mutate-pods')).toBe(pods);
    expect((await requests.get()).values).toEqual([
      { labels: { webhook: '/mutate-pods', code: '200' }, value: 0 },
      { labels: { webhook: '/mutate-pods', code: '500' }, value: 0 },
    ]);
    const first = pods.begin();
    const second = pods.begin();
    expect(pods.inFlight).toBe(2);
    pods.end(first, 200);
    pods.end(second, 400);
    expect(pods.inFlight).toBe(0);
    const values = (await requests.get()).values.map((v) => [v.labels.code, v.value]);
    expect(values).toEqual([
      ['200', 1],
      ['500', 0],
      ['400', 1],
    ]);
    const count = (await latency.get()).values.find(
      (v) => v.metricName === 'latency_seconds_count' && v.labels.webhook === '/mutate-pods',
    );
    expect(count?.value).toBe(2);
    expect([...admission.webhooks()].map((w) => w.path)).toEqual(['/mutate-pods']);
  });

  it('counts allocation failures by reason, every reason present from the start', async () => {
    const { admission, failures } = metrics();
    const reasons = Object.values(ALLOCATION_FAILURE_REASONS).map((r) => r.reason);
    expect(new Set(reasons).size).toBe(reasons.length);
    for (const reason of reasons) expect(reason).toMatch(/^[a-z]+(_[a-z]+)*$/);
    admission.allocationFailed(MutationExceptionCode.POOL_EXHAUSTED);
    admission.allocationFailed(MutationExceptionCode.POOL_EXHAUSTED);
    admission.allocationFailed(MutationExceptionCode.MAC_IN_USE);
    const byReason = Object.fromEntries((await failures.get()).values.map((v) => [v.labels.reason, v.value]));
    expect(Object.keys(byReason).sort()).toEqual([...reasons].sort());
    expect(byReason).toMatchObject({ exhausted: 2, duplicate_rejected: 1, invalid_mac: 0, multicast: 0 });
  });
});
