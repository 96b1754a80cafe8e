import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  V1MicroTime,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/binaries';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';

const VM_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' } as const;

function builtKubernetesVersion(): string {
  const goMod = readFileSync(join(REPO_ROOT, 'tools', 'k8s', 'go.mod'), 'utf8');
  return /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)$/m.exec(goMod)![1];
}

function podBody(name: string) {
  return { metadata: { name }, spec: { containers: [{ name: 'main', image: 'registry.invalid/pause:1' }] } };
}

async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the test control plane (real kube-apiserver + etcd)', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  it('answers /version with the version built from tools/k8s', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(builtKubernetesVersion());
    expect(controlPlaneInfo().version).toBe(builtKubernetesVersion());
  });

  it('creates a Pod without a node and deletes it at once', async () => {
    const namespace = await createTestNamespace('smoke-pod');
    const created = await core.createNamespacedPod({ namespace, body: podBody('p1') });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.status?.phase).toBe('Pending');
    await core.deleteNamespacedPod({ name: 'p1', namespace });
    const status = await core.readNamespacedPod({ name: 'p1', namespace }).then(
      () => 200,
      (error: ApiException<unknown>) => error.code,
    );
    expect(status).toBe(404);
  });

  it('stores a VirtualMachine with its spec intact (our minimal KubeVirt CRD)', async () => {
    const namespace = await createTestNamespace('smoke-vm');
    const interfaces = [{ name: 'default', masquerade: {}, macAddress: '02:00:00:00:00:01' }];
    await custom.createNamespacedCustomObject({
      ...VM_API,
      namespace,
      body: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'vm1' },
        spec: { runStrategy: 'Halted', template: { spec: { domain: { devices: { interfaces } } } } },
      },
    });
    const vm = (await custom.getNamespacedCustomObject({ ...VM_API, namespace, name: 'vm1' })) as {
      spec: { template: { spec: { domain: { devices: { interfaces: unknown } } } } };
    };
    expect(vm.spec.template.spec.domain.devices.interfaces).toEqual(interfaces);
  });

  it('rejects a malformed VirtualMachine with the apiserver’s own validation error', async () => {
    const namespace = await createTestNamespace('smoke-vm-bad');
    const error = await custom
      .createNamespacedCustomObject({
        ...VM_API,
        namespace,
        body: {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachine',
          metadata: { name: 'bad' },
          spec: 'not-an-object',
        },
      })
      .then(
        () => undefined,
        (e: ApiException<string>) => e,
      );
    expect(error?.code).toBe(422);
    const status = JSON.parse(String(error?.body)) as { reason: string; message: string };
    expect(status.reason).toBe('Invalid');
    expect(status.message).toContain('spec: Invalid value: "string": spec in body must be of type object');
  });

  it('creates and renews a Lease with microsecond times', async () => {
    const namespace = await createTestNamespace('smoke-lease');
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const acquired = new V1MicroTime(Date.now());
    await coordination.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'kubemacpool-leader' },
        spec: {
          holderIdentity: 'replica-a',
          leaseDurationSeconds: 15,
          acquireTime: acquired,
          renewTime: acquired,
        },
      },
    });
    const lease = await coordination.readNamespacedLease({ name: 'kubemacpool-leader', namespace });
    lease.spec!.renewTime = new V1MicroTime(Date.now() + 1000);
    const renewed = await coordination.replaceNamespacedLease({
      name: 'kubemacpool-leader',
      namespace,
      body: lease,
    });
    expect(renewed.spec?.holderIdentity).toBe('replica-a');
    expect(new Date(renewed.spec!.renewTime!).getTime()).toBeGreaterThan(new Date(acquired).getTime());
  });

  it('delivers watch events for Pods', async () => {
    const namespace = await createTestNamespace('smoke-watch');
    const seen: string[] = [];
    const watch = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (phase: string, pod: { metadata?: { name?: string } }) => seen.push(`${phase} ${pod.metadata?.name}`),
      () => undefined,
    );
    try {
      await core.createNamespacedPod({ namespace, body: podBody('watched') });
      await core.deleteNamespacedPod({ name: 'watched', namespace });
      const events = await eventually(
        async () => seen,
        (s) => s.includes('DELETED watched'),
      );
      expect(events).toEqual(expect.arrayContaining(['ADDED watched', 'DELETED watched']));
    } finally {
      watch.abort();
    }
  });

  it('finishes deleting a namespace (kube-controller-manager runs the namespace controller)', async () => {
    const namespace = await createTestNamespace('smoke-ns-delete');
    await core.createNamespacedPod({ namespace, body: podBody('inside') });
    await core.deleteNamespace({ name: namespace });
    const status = await eventually(
      () =>
        core.readNamespace({ name: namespace }).then(
          () => 200,
          (error: ApiException<unknown>) => error.code,
        ),
      (code) => code === 404,
      60_000,
    );
    expect(status).toBe(404);
  });
});
