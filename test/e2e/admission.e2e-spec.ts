import { loadYaml } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { podWithNetworks, virtualMachine } from '../fixtures/objects';
import { REPO_ROOT, findBinary } from '../support/binaries';
import { controlPlaneInfo } from '../support/cluster';
import { VM_API, WebhookEnvironment, apiErrorMessage, waitUntil } from '../support/webhook';
import { MacAddress } from '../../src/modules/pool/mac-address';
import { NamespaceScopeService } from '../../src/modules/namespaces/namespace-scope.service';

const RANGE = { RANGE_START: '02:aa:00:00:00:00', RANGE_END: '02:aa:00:00:ff:ff' };
const inRange = (mac: string) => {
  const value = MacAddress.parse(mac).value;
  return (
    value >= MacAddress.parse(RANGE.RANGE_START).value && value <= MacAddress.parse(RANGE.RANGE_END).value
  );
};

type Vm = {
  spec: {
    template: { spec: { domain: { devices: { interfaces: { name: string; macAddress?: string }[] } } } };
  };
};
const macsOf = (vm: unknown) =>
  (vm as Vm).spec.template.spec.domain.devices.interfaces.map((i) => i.macAddress);
/** The MACs of a pod's networks annotation; an unmutated short-form annotation has none. */
const podMacs = (pod: { metadata?: { annotations?: Record<string, string> } }): (string | undefined)[] => {
  const value = pod.metadata?.annotations?.['k8s.v1.cni.cncf.io/networks'] ?? '[]';
  if (!value.trim().startsWith('[')) return value.split(',').map(() => undefined);
  return (JSON.parse(value) as { mac?: string }[]).map((n) => n.mac);
};

describe('admission webhooks through the real kube-apiserver', () => {
  const env = new WebhookEnvironment();
  beforeAll(() => env.start({ ...RANGE, DUPLICATE_POLICY: 'Warn' }));
  afterAll(() => env.stop());

  const createVm = (namespace: string, body: Record<string, unknown>, dryRun?: 'All') =>
    env.custom.createNamespacedCustomObject({ ...VM_API, namespace, body, dryRun });

  it('gives the README example VM a MAC in the range', async () => {
    const namespace = await env.namespace('adm-simple');
    const body = loadYaml(
      readFileSync(join(REPO_ROOT, 'k8s', 'examples', 'simple-vm.yaml'), 'utf8'),
    ) as Record<string, unknown>;
    const vm = await waitUntil('the webhook to mutate the VM', async () => {
      const created = await createVm(namespace, body, 'All');
      return macsOf(created)[0] === undefined ? undefined : created;
    });
    const stored = await createVm(namespace, body);
    expect(macsOf(vm)[0]).toBeDefined();
    const [mac] = macsOf(stored);
    expect(inRange(mac!)).toBe(true);
    expect(
      (stored as { metadata: { annotations: Record<string, string> } }).metadata.annotations,
    ).toHaveProperty(['kubemacpool.io/transaction-timestamp']);
  });

  it('gives a masquerade and two Multus bridge interfaces three distinct MACs', async () => {
    const namespace = await env.namespace('adm-vm3');
    const vm = await createVm(
      namespace,
      virtualMachine(
        'vm3',
        [{ name: 'default', binding: 'masquerade' }, { name: 'br1' }, { name: 'br2' }],
        [{ name: 'default' }, { name: 'br1', multus: 'br1-nad' }, { name: 'br2', multus: 'br2-nad' }],
      ),
    );
    const macs = macsOf(vm);
    expect(new Set(macs).size).toBe(3);
    expect(macs.every((m) => m !== undefined && inRange(m))).toBe(true);
  });

  it('gives Pod networks MACs in both annotation forms and keeps every field', async () => {
    const namespace = await env.namespace('adm-pods');
    const json = await env.core.createNamespacedPod({
      namespace,
      body: podWithNetworks(
        'json',
        JSON.stringify([
          { name: 'net1', 'x-custom': { keep: true } },
          { name: 'net2', namespace: 'other', interface: 'eth7' },
        ]),
      ),
    });
    const short = await env.core.createNamespacedPod({ namespace, body: podWithNetworks('short', 'net3') });
    const written = JSON.parse(json.metadata!.annotations!['k8s.v1.cni.cncf.io/networks']) as Record<
      string,
      unknown
    >[];
    expect(written[0]).toMatchObject({ name: 'net1', 'x-custom': { keep: true } });
    expect(written[1]).toMatchObject({ name: 'net2', namespace: 'other', interface: 'eth7' });
    const macs = [...podMacs(json), ...podMacs(short)];
    expect(macs).toHaveLength(3);
    expect(new Set(macs).size).toBe(3);
    expect(macs.every((m) => m !== undefined && inRange(m))).toBe(true);
  });

  it('gives the pod of a standalone VMI MACs, and leaves the launcher pod of a VM’s VMI to the VM', async () => {
    const namespace = await env.namespace('adm-launcher');
    const ownedBy = (vmi: string) => ({
      ...podWithNetworks('', 'net1'),
      metadata: {
        generateName: 'virt-launcher-',
        annotations: { 'k8s.v1.cni.cncf.io/networks': 'net1' },
        ownerReferences: [
          {
            apiVersion: 'kubevirt.io/v1',
            kind: 'VirtualMachineInstance',
            name: vmi,
            uid: 'd0c7e6c2-0000-4000-8000-000000000001',
          },
        ],
      },
    });
    // No VM named `standalone`: upstream's rule gives its pod MACs from the pool (the manager asks the API).
    const standalone = await env.core.createNamespacedPod({ namespace, body: ownedBy('standalone') });
    expect(podMacs(standalone).every((mac) => mac !== undefined && inRange(mac))).toBe(true);
    await createVm(
      namespace,
      virtualMachine('owned', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]),
    );
    const launcher = await env.core.createNamespacedPod({ namespace, body: ownedBy('owned') });
    expect(podMacs(launcher)).toEqual([undefined]);
  });

  it('keeps all five MACs when a VM is applied again without them (upstream test 2243)', async () => {
    const namespace = await env.namespace('adm-2243');
    const names = ['default', 'br1', 'br2', 'br3', 'br4'];
    const body = () =>
      virtualMachine(
        'vm5',
        names.map((name, i) => ({ name, binding: i === 0 ? ('masquerade' as const) : ('bridge' as const) })),
        names.map((name, i) => (i === 0 ? { name } : { name, multus: `${name}-nad` })),
      );
    const created = (await createVm(namespace, body())) as { metadata: { resourceVersion: string } };
    const before = macsOf(created);
    expect(new Set(before).size).toBe(5);
    const reapplied = body();
    (reapplied.metadata as Record<string, unknown>).resourceVersion = created.metadata.resourceVersion;
    (reapplied.metadata as Record<string, unknown>).labels = { reapplied: 'true' };
    const updated = await env.custom.replaceNamespacedCustomObject({
      ...VM_API,
      namespace,
      name: 'vm5',
      body: reapplied,
    });
    expect(macsOf(updated)).toEqual(before);
  });

  it('denies two interfaces with one MAC with upstream’s message', async () => {
    const namespace = await env.namespace('adm-dup');
    const error = await createVm(
      namespace,
      virtualMachine(
        'dup',
        [
          { name: 'br1', macAddress: '02:00:00:00:ff:ff' },
          { name: 'br2', macAddress: '02:00:00:00:FF:FF' },
        ],
        [
          { name: 'br1', multus: 'n' },
          { name: 'br2', multus: 'n' },
        ],
      ),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(apiErrorMessage(error)).toBe(
      'admission webhook "mutatevirtualmachines.kubemacpool.io" denied the request: Failed to create virtual machine allocation error: Failed to allocate mac to the vm object: duplicate MAC address 02:00:00:00:ff:ff found on interfaces: br1 and br2',
    );
  });

  it('prints the duplicate warning in kubectl under the Warn policy', async () => {
    const namespace = await env.namespace('adm-warn');
    const first = await createVm(
      namespace,
      virtualMachine('holder', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]),
    );
    const [taken] = macsOf(first);
    const manifest = virtualMachine(
      'copycat',
      [{ name: 'default', binding: 'masquerade', macAddress: taken }],
      [{ name: 'default' }],
    );
    const kubectl = await kubectlCreate(namespace, manifest);
    expect(kubectl.stderr).toContain(
      `Warning: MAC address ${taken} requested for interface default is already in use by vm/${namespace}/holder`,
    );
    expect(kubectl.stdout).toContain('virtualmachine.kubevirt.io/copycat created');
  });

  describe('opt-in and opt-out', () => {
    afterAll(() => env.setModes({ pods: 'opt-out', vms: 'opt-out' }));

    const podMutated = async (namespace: string) => {
      const pod = await env.core.createNamespacedPod({
        namespace,
        dryRun: 'All',
        body: podWithNetworks('probe', 'net1'),
      });
      return podMacs(pod)[0] !== undefined;
    };
    const vmMutated = async (namespace: string) =>
      macsOf(
        await createVm(
          namespace,
          virtualMachine('probe', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]),
          'All',
        ),
      )[0] !== undefined;

    it('serves every namespace but opted-out and run-level ones in opt-out mode', async () => {
      await env.setModes({ pods: 'opt-out', vms: 'opt-out' });
      const plain = await env.namespace('opt-out-plain');
      const ignored = await env.namespace('opt-out-ignored', {
        'mutatepods.kubemacpool.io': 'ignore',
        'mutatevirtualmachines.kubemacpool.io': 'ignore',
      });
      const runlevel = await env.namespace('opt-out-runlevel', { runlevel: '0' });
      const openshift = await env.namespace('opt-out-openshift', { 'openshift.io/run-level': '1' });
      await waitUntil('opt-out mode to reach the API server', async () =>
        (await podMutated(plain)) ? true : undefined,
      );
      expect(await vmMutated(plain)).toBe(true);
      for (const namespace of [ignored, runlevel, openshift]) {
        expect(await podMutated(namespace)).toBe(false);
        expect(await vmMutated(namespace)).toBe(false);
      }
      // The manager reads the same modes from the configuration and agrees with the API server.
      const scope = env.manager.app.get(NamespaceScopeService);
      await waitUntil('the manager to see the namespaces', async () =>
        scope.isManaged('pods', plain) ? true : undefined,
      );
      expect(scope.mode('pods')).toBe('opt-out');
      expect(scope.isManaged('virtualmachines', plain)).toBe(true);
      for (const namespace of [ignored, runlevel, openshift])
        expect(scope.isManaged('pods', namespace)).toBe(false);
    });

    it('serves only opted-in namespaces, never run-level ones, in opt-in mode', async () => {
      await env.setModes({ pods: 'opt-in', vms: 'opt-in' });
      const plain = await env.namespace('opt-in-plain');
      const allocated = await env.namespace('opt-in-allocate', {
        'mutatepods.kubemacpool.io': 'allocate',
        'mutatevirtualmachines.kubemacpool.io': 'allocate',
      });
      const podsOnly = await env.namespace('opt-in-pods-only', { 'mutatepods.kubemacpool.io': 'allocate' });
      const runlevel = await env.namespace('opt-in-runlevel', {
        'mutatepods.kubemacpool.io': 'allocate',
        'mutatevirtualmachines.kubemacpool.io': 'allocate',
        runlevel: '1',
      });
      await waitUntil('opt-in mode to reach the API server', async () =>
        (await podMutated(plain)) ? undefined : true,
      );
      expect(await podMutated(allocated)).toBe(true);
      expect(await vmMutated(allocated)).toBe(true);
      expect(await podMutated(podsOnly)).toBe(true);
      expect(await vmMutated(podsOnly)).toBe(false);
      expect(await vmMutated(plain)).toBe(false);
      expect(await podMutated(runlevel)).toBe(false);
      expect(await vmMutated(runlevel)).toBe(false);
      const scope = env.manager.app.get(NamespaceScopeService);
      await waitUntil('the manager to see opt-in mode', async () =>
        scope.mode('pods') === 'opt-in' ? true : undefined,
      );
      await waitUntil('the manager to see the namespaces', async () =>
        scope.isManaged('pods', podsOnly) ? true : undefined,
      );
      expect(scope.isManaged('virtualmachines', podsOnly)).toBe(false);
      expect(scope.isManaged('virtualmachines', allocated)).toBe(true);
      expect(scope.isManaged('pods', plain)).toBe(false);
      expect(scope.isManaged('pods', runlevel)).toBe(false);
    });
  });
});

describe('the webhook over IPv6 with the default bind address', () => {
  // No WEBHOOK_BIND_ADDRESS: the default must serve IPv6 as well as IPv4, or a single-stack IPv6 cluster (whose
  // API server reaches the Service over IPv6) fails every create in a managed namespace.
  const env = new WebhookEnvironment();
  env.webhookHost = '[::1]';
  beforeAll(() => env.start({ ...RANGE, WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1,::1' }));
  afterAll(() => env.stop());

  it('is called by the API server at [::1] and gives a VM a MAC', async () => {
    const namespace = await env.namespace('adm-ipv6');
    const created = await env.custom.createNamespacedCustomObject({
      ...VM_API,
      namespace,
      body: virtualMachine('v6', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]),
    });
    const [mac] = macsOf(created);
    expect(inRange(mac!)).toBe(true);
  });
});

describe('the Reject duplicate policy through the real kube-apiserver', () => {
  const env = new WebhookEnvironment();
  beforeAll(() => env.start({ ...RANGE, DUPLICATE_POLICY: 'Reject' }));
  afterAll(() => env.stop());

  it('denies a requested MAC another object holds, naming the holder', async () => {
    const namespace = await env.namespace('rej');
    const holder = await env.core.createNamespacedPod({ namespace, body: podWithNetworks('holder', 'net1') });
    const [taken] = podMacs(holder);
    const error = await env.core
      .createNamespacedPod({
        namespace,
        body: podWithNetworks('copycat', JSON.stringify([{ name: 'net1', mac: taken }])),
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiErrorMessage(error)).toBe(
      `admission webhook "mutatepods.kubemacpool.io" denied the request: MAC address ${taken} requested for network net1 of pod/${namespace}/copycat is already in use by pod/${namespace}/holder`,
    );
  });
});

describe('with the manager stopped', () => {
  const env = new WebhookEnvironment();
  beforeAll(() => env.start(RANGE));
  afterAll(() => env.stop());

  it('fails pod creation in a managed namespace and not in an excluded one', async () => {
    const managed = await env.namespace('stopped-managed');
    const excluded = await env.namespace('stopped-excluded', { 'mutatepods.kubemacpool.io': 'ignore' });
    await waitUntil('the webhook to serve', async () => {
      const pod = await env.core.createNamespacedPod({
        namespace: managed,
        dryRun: 'All',
        body: podWithNetworks('p', 'net1'),
      });
      return podMacs(pod)[0];
    });
    await env.manager.close();
    const error = await env.core
      .createNamespacedPod({ namespace: managed, body: podWithNetworks('p', 'net1') })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiErrorMessage(error)).toMatch(/failed calling webhook "mutatepods\.kubemacpool\.io"/);
    const created = await env.core.createNamespacedPod({
      namespace: excluded,
      body: podWithNetworks('p', 'net1'),
    });
    expect(podMacs(created)).toEqual([undefined]);
  });
});

async function kubectlCreate(namespace: string, manifest: Record<string, unknown>) {
  const run = promisify(execFile);
  const child = run(findBinary('kubectl'), ['create', '-n', namespace, '-f', '-'], {
    env: { ...process.env, KUBECONFIG: controlPlaneInfo().kubeconfigPath },
  });
  child.child.stdin!.end(JSON.stringify(manifest));
  return child;
}
