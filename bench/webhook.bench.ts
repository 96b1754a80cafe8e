import { execFile } from 'node:child_process';
import { type AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startManager } from '../src/bootstrap';
import { buildWebhookConfiguration } from '../src/common/webhook-configuration';
import { ServingCertificateService } from '../src/modules/certificates/serving-certificate.service';
import { admissionReview, virtualMachine } from '../test/fixtures/objects';
import { benchCluster } from './bench-cluster';
import { type BenchSuite, median, secondsSince } from './harness';
import { type LoadPlan, type LoadResult } from './load-generator';

const VM_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' } as const;
const SCOPE = 'kubemacpool.io/bench-scope';

/** A VM as users write them: masquerade on the pod network, two bridges on Multus networks, disks, cloud-init. */
function realisticVm(name: string): Record<string, unknown> {
  const vm = virtualMachine(
    name,
    [{ name: 'default', binding: 'masquerade' }, { name: 'br1' }, { name: 'br2' }],
    [{ name: 'default' }, { name: 'br1', multus: 'tenant-a/br1' }, { name: 'br2', multus: 'tenant-a/br2' }],
    { labels: { app: 'bench', 'kubevirt.io/vm': name }, annotations: { description: 'a benchmark VM' } },
  );
  const spec = (
    vm.spec as { template: { spec: Record<string, unknown> & { domain: Record<string, unknown> } } }
  ).template.spec;
  spec.domain.cpu = { cores: 2 };
  (spec.domain.devices as Record<string, unknown>).disks = [
    { name: 'rootdisk', disk: { bus: 'virtio' } },
    { name: 'cloudinitdisk', disk: { bus: 'virtio' } },
  ];
  spec.volumes = [
    { name: 'rootdisk', containerDisk: { image: 'quay.io/containerdisks/fedora:41' } },
    {
      name: 'cloudinitdisk',
      cloudInitNoCloud: { userData: '#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n' },
    },
  ];
  return vm;
}

async function load(plan: LoadPlan): Promise<LoadResult> {
  const running = promisify(execFile)(process.execPath, [join(__dirname, 'load-generator.js')], {
    maxBuffer: 1 << 20,
  });
  running.child.stdin!.end(JSON.stringify(plan));
  return JSON.parse((await running).stdout) as LoadResult;
}

export const webhookSuite: BenchSuite = {
  name: 'webhook',
  async run(report) {
    const { plane, core, admission, custom } = await benchCluster();
    await core.createNamespace({ body: { metadata: { name: 'kmp-bench' } } });
    const manager = await startManager(
      {
        RANGE_START: '02:cc:00:00:00:00',
        RANGE_END: '02:cc:ff:ff:ff:ff',
        POD_NAMESPACE: 'kmp-bench',
        WEBHOOK_PORT: '0',
        METRICS_ADDR: '127.0.0.1:0',
        WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1',
        WEBHOOK_CONFIGURATION_NAME: 'kmp-bench',
        CA_PROPAGATION_DELAY: '1s',
        LOG_LEVEL: 'warn',
      },
      {
        // A webhook that admits without looking: the API server's own cost of calling any webhook, for comparison.
        beforeListen: (app) => {
          app
            .getHttpAdapter()
            .getInstance()
            .post('/bench-noop', async (request) => ({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: { uid: (request.body as { request: { uid: string } }).request.uid, allowed: true },
            }));
        },
      },
    );
    if (manager === undefined) throw new Error('manager refused its configuration');
    try {
      const port = (manager.app.getHttpServer().address() as AddressInfo).port;
      await admission.createMutatingWebhookConfiguration({
        body: buildWebhookConfiguration({
          name: 'kmp-bench',
          podsMode: 'opt-out',
          virtualMachinesMode: 'opt-out',
          clientConfig: { url: `https://127.0.0.1:${port}` },
          extraNamespaceSelectorExpressions: [{ key: SCOPE, operator: 'In', values: ['yes'] }],
        }),
      });
      let ca = '';
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const live = await admission.readMutatingWebhookConfiguration({ name: 'kmp-bench' });
        ca = Buffer.from(live.webhooks?.[0].clientConfig.caBundle ?? '', 'base64').toString('utf8');
        if (ca !== '' && manager.app.get(ServingCertificateService).fingerprint !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // The webhook alone, over HTTPS on loopback, with a realistic VM CREATE review (allocating for real).
      const bodies = Array.from({ length: 200 }, (_, i) =>
        JSON.stringify(
          admissionReview({ kind: 'VirtualMachine', namespace: 'tenant-a', object: realisticVm(`vm-${i}`) }),
        ),
      );
      report({ bench: 'webhook/review-bytes', value: Buffer.byteLength(bodies[0]), unit: 'bytes' });
      const plan = { port, path: '/mutate-virtualmachines', ca, bodies };
      await load({ ...plan, connections: 8, durationMs: 2000 });
      const loopDelay = monitorEventLoopDelay({ resolution: 1 });
      loopDelay.enable();
      const paced = await load({ ...plan, connections: 8, durationMs: 10_000, rate: 1000 });
      loopDelay.disable();
      report({
        bench: 'webhook/server-event-loop-delay-p99-at-1000rps',
        value: Number((loopDelay.percentile(99) / 1e6).toFixed(3)),
        unit: 'ms',
      });
      report({ bench: 'webhook/https-p50-at-1000rps', value: Number(paced.p50Ms.toFixed(3)), unit: 'ms' });
      report({
        bench: 'webhook/https-p99-at-1000rps',
        value: Number(paced.p99Ms.toFixed(3)),
        unit: 'ms',
        target: '<= 2',
      });
      report({
        bench: 'webhook/https-errors-at-1000rps',
        value: paced.errors + paced.non200,
        unit: 'requests',
      });
      const flat = await load({ ...plan, connections: 16, durationMs: 8000 });
      report({
        bench: 'webhook/https-max-sustained-rate',
        value: Math.round(flat.requests / flat.seconds),
        unit: 'req/s',
        target: '>= 5000',
      });
      report({ bench: 'webhook/https-p99-at-max-rate', value: Number(flat.p99Ms.toFixed(3)), unit: 'ms' });

      // Through the API server: the same VM created 1,000 times with our webhook, with a no-op webhook, and without.
      const withWebhook = 'kmp-bench-with';
      const without = 'kmp-bench-without';
      const withNoop = 'kmp-bench-noop';
      await core.createNamespace({ body: { metadata: { name: withWebhook, labels: { [SCOPE]: 'yes' } } } });
      await core.createNamespace({ body: { metadata: { name: without } } });
      await core.createNamespace({ body: { metadata: { name: withNoop, labels: { [SCOPE]: 'noop' } } } });
      await admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name: 'kmp-bench-noop' },
          webhooks: [
            {
              name: 'noop.bench.kubemacpool.io',
              clientConfig: {
                url: `https://127.0.0.1:${port}/bench-noop`,
                caBundle: Buffer.from(ca).toString('base64'),
              },
              rules: [
                {
                  operations: ['CREATE'],
                  apiGroups: ['kubevirt.io'],
                  apiVersions: ['v1'],
                  resources: ['virtualmachines'],
                },
              ],
              namespaceSelector: { matchLabels: { [SCOPE]: 'noop' } },
              sideEffects: 'None',
              admissionReviewVersions: ['v1'],
              failurePolicy: 'Fail',
            },
          ],
        },
      });
      // Alternate the two namespaces, so both see the same API server and etcd as both grow.
      const createBoth = async (prefix: string, count: number) => {
        const latencies = { plain: [] as number[], noop: [] as number[], mutated: [] as number[] };
        for (let i = 0; i < count; i++) {
          for (const [namespace, into] of [
            [without, latencies.plain],
            [withNoop, latencies.noop],
            [withWebhook, latencies.mutated],
          ] as const) {
            const start = process.hrtime.bigint();
            await custom.createNamespacedCustomObject({
              ...VM_API,
              namespace,
              body: realisticVm(`${prefix}-${i}`),
            });
            into.push(secondsSince(start) * 1000);
          }
        }
        return latencies;
      };
      await createBoth('warm-up', 200);
      const { plain, noop, mutated } = await createBoth('vm', 1000);
      report({
        bench: 'webhook/apiserver-create-median-with-noop-webhook',
        value: Number(median(noop).toFixed(3)),
        unit: 'ms',
      });
      report({
        bench: 'webhook/apiserver-added-median-latency-noop-webhook',
        value: Number((median(noop) - median(plain)).toFixed(3)),
        unit: 'ms',
      });
      report({
        bench: 'webhook/apiserver-create-median-without',
        value: Number(median(plain).toFixed(3)),
        unit: 'ms',
      });
      report({
        bench: 'webhook/apiserver-create-median-with',
        value: Number(median(mutated).toFixed(3)),
        unit: 'ms',
      });
      report({
        bench: 'webhook/apiserver-added-median-latency',
        value: Number((median(mutated) - median(plain)).toFixed(3)),
        unit: 'ms',
        target: '<= 1',
      });
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name: 'kmp-bench' }).catch(() => undefined);
      await admission.deleteMutatingWebhookConfiguration({ name: 'kmp-bench-noop' }).catch(() => undefined);
      await manager.close();
      await plane.stop();
    }
  },
};
