import { type AddressInfo } from 'node:net';
import { podWithNetworks, virtualMachine } from '../fixtures/objects';
import { VM_API, WebhookEnvironment, apiErrorMessage, waitUntil } from '../support/webhook';

/** Four MACs: small enough that a VM can ask for more than are free. */
const RANGE = { RANGE_START: '02:bb:00:00:00:00', RANGE_END: '02:bb:00:00:00:03' };

type Vm = {
  spec: { template: { spec: { domain: { devices: { interfaces: { macAddress?: string }[] } } } } };
};
const macsOf = (vm: unknown) =>
  (vm as Vm).spec.template.spec.domain.devices.interfaces.map((i) => i.macAddress);

/** Every sample of one scrape, by its series text (`name{labels}`). */
async function scrape(env: WebhookEnvironment): Promise<Map<string, number>> {
  const port = (env.manager.metricsApp!.getHttpServer().address() as AddressInfo).port;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

async function sample(env: WebhookEnvironment, series: string): Promise<number> {
  const value = (await scrape(env)).get(series);
  if (value === undefined) throw new Error(`no sample ${series} in /metrics`);
  return value;
}

/** Waits until `series` reads `expected` (a scrape is taken every 100 ms, for at most 20 s). */
function waitForSample(env: WebhookEnvironment, series: string, expected: number): Promise<true> {
  return waitUntil(`${series} to read ${expected}`, async () =>
    (await sample(env, series)) === expected ? true : undefined,
  );
}

describe('metrics of a manager serving the real kube-apiserver', () => {
  const env = new WebhookEnvironment();
  beforeAll(() => env.start({ ...RANGE, DUPLICATE_POLICY: 'Warn' }));
  afterAll(() => env.stop());

  const createVm = (namespace: string, body: Record<string, unknown>) =>
    env.custom.createNamespacedCustomObject({ ...VM_API, namespace, body });
  const singleNic = (name: string, macAddress?: string) =>
    virtualMachine(name, [{ name: 'default', binding: 'masquerade', macAddress }], [{ name: 'default' }]);

  it('raises kubevirt_kmp_duplicate_macs when two VMs share a MAC and lowers it when one is deleted', async () => {
    const namespace = await env.namespace('met-dup');
    const startedAt = await sample(env, 'process_start_time_seconds');
    expect(await sample(env, 'kubevirt_kmp_duplicate_macs')).toBe(0);
    const holder = await createVm(namespace, singleNic('holder'));
    const [taken] = macsOf(holder);
    // The Warn policy admits a MAC another VM holds.
    await createVm(namespace, singleNic('copycat', taken));
    await waitForSample(env, 'kubevirt_kmp_duplicate_macs', 1);
    expect(await sample(env, 'kubemacpool_pool_shared_macs')).toBe(1);

    await env.custom.deleteNamespacedCustomObject({ ...VM_API, namespace, name: 'copycat' });
    await waitForSample(env, 'kubevirt_kmp_duplicate_macs', 0);
    // The holder keeps its MAC; the same process answered throughout.
    expect(await sample(env, 'kubemacpool_pool_shared_macs')).toBe(0);
    expect(await sample(env, 'process_start_time_seconds')).toBe(startedAt);
    await env.custom.deleteNamespacedCustomObject({ ...VM_API, namespace, name: 'holder' });
  });

  it("counts a Pod admission in controller-runtime's webhook series", async () => {
    const namespace = await env.namespace('met-pod');
    const ok = 'controller_runtime_webhook_requests_total{webhook="/mutate-pods",code="200"}';
    const timed = 'controller_runtime_webhook_latency_seconds_count{webhook="/mutate-pods"}';
    const before = await scrape(env);
    expect(before.get('controller_runtime_webhook_requests_total{webhook="/mutate-pods",code="500"}')).toBe(
      0,
    );
    await env.core.createNamespacedPod({ namespace, body: podWithNetworks('p', 'net1') });
    const after = await scrape(env);
    expect(after.get(ok)).toBeGreaterThanOrEqual((before.get(ok) ?? 0) + 1);
    expect(after.get(timed)).toBe(after.get(ok));
    expect(after.get('controller_runtime_webhook_requests_in_flight{webhook="/mutate-pods"}')).toBe(0);
    await env.core.deleteNamespacedPod({ namespace, name: 'p' });
  });

  it('counts a VM denied because the range is full as kmp_allocation_failures_total{reason="exhausted"}', async () => {
    const namespace = await env.namespace('met-full');
    const exhausted = 'kmp_allocation_failures_total{reason="exhausted"}';
    const answered =
      'controller_runtime_webhook_requests_total{webhook="/mutate-virtualmachines",code="200"}';
    const before = await scrape(env);
    expect(before.get('kmp_allocation_failures_total{reason="invalid_mac"}')).toBe(0);
    // More interfaces than the range has MACs: full whatever else holds some.
    const names = Array.from({ length: before.get('kubemacpool_pool_size')! + 1 }, (_, i) => `br${i}`);
    const error = await createVm(
      namespace,
      virtualMachine(
        'too-many',
        names.map((name) => ({ name })),
        names.map((name) => ({ name, multus: `${name}-nad` })),
      ),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(apiErrorMessage(error)).toContain('the range is full');
    const after = await scrape(env);
    expect(after.get(exhausted)).toBe((before.get(exhausted) ?? 0) + 1);
    // A denial is an answered AdmissionReview: HTTP 200, the decision inside.
    expect(after.get(answered)).toBeGreaterThan(before.get(answered) ?? 0);
  });

  it('exposes the CA and serving certificate expiry, and the Node.js process metrics', async () => {
    const now = Date.now() / 1000;
    for (const certificate of ['ca', 'serving']) {
      const notAfter = await waitUntil(`the ${certificate} not-after`, async () =>
        (await scrape(env)).get(
          `kubemacpool_certificate_not_after_timestamp_seconds{certificate="${certificate}"}`,
        ),
      );
      expect(notAfter).toBeGreaterThan(now);
      // Renewal is due one overlap interval (the defaults: 24 h for both) before the end, and not yet.
      const renewal = (await scrape(env)).get(
        `kubemacpool_certificate_renewal_due_timestamp_seconds{certificate="${certificate}"}`,
      );
      expect(renewal).toBe(notAfter! - 24 * 3600);
      expect(renewal).toBeGreaterThan(now);
    }
    const samples = await scrape(env);
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
    ])
      expect(samples.get(name)).toBeGreaterThan(0);
  });
});
