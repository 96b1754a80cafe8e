import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { type AddressInfo } from 'node:net';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { X509Repository } from '../../src/modules/certificates/x509.repository';
import { MacAddress } from '../../src/modules/pool/mac-address';
import { podWithNetworks, virtualMachine } from '../fixtures/objects';
import { REPO_ROOT } from '../support/binaries';
import { chartIdentity } from '../support/chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { ControlPlane } from '../support/control-plane';
import { FaultProxy } from '../support/fault-proxy';
import { logRecords } from '../support/manager-log';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { VM_API, apiErrorMessage, inParallel, waitUntil } from '../support/webhook';

const x509 = new X509Repository();
/** The line the pending sweep logs for each namespace it settled anything in (PendingSweepService). */
const SWEEP_SETTLED = 'settled expired pending MACs';

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const SCOPE = 'kubemacpool.io/test-scope';

type Vm = {
  metadata: { name: string };
  spec: { template: { spec: { domain: { devices: { interfaces: { macAddress?: string }[] } } } } };
};
const vmMacs = (vm: unknown) =>
  (vm as Vm).spec.template.spec.domain.devices.interfaces.map((i) => i.macAddress!);
const podMacs = (pod: V1Pod) =>
  (JSON.parse(pod.metadata?.annotations?.['k8s.v1.cni.cncf.io/networks'] ?? '[]') as { mac?: string }[]).map(
    (n) => n.mac!,
  );
const simpleVm = (name: string) =>
  virtualMachine(name, [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]);

const SHARED_CLUSTER = { kubeConfig: kc, kubeconfigPath: controlPlaneInfo().kubeconfigPath };

/**
 * The manager as its own process, with the real webhook configuration scoped to this environment's namespaces. By
 * default on the shared control plane; `cluster` names another one (its admin KubeConfig and the file the manager
 * reads, which may point through a FaultProxy).
 */
class LifecycleEnvironment {
  readonly scope = randomBytes(4).toString('hex');
  readonly configurationName = `kmp-life-${this.scope}`;
  managerNamespace = '';
  manager!: ManagerProcess;

  private releaseIdentity: () => Promise<void> = () => Promise.resolve();

  constructor(
    private readonly cluster: { kubeConfig: KubeConfig; kubeconfigPath: string } = SHARED_CLUSTER,
  ) {}

  private get admission() {
    return this.cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  }

  async start(env: Record<string, string>): Promise<void> {
    this.managerNamespace = await createTestNamespace('kmp-life-manager', {}, this.cluster.kubeConfig);
    // On the shared control plane the manager authenticates as the chart's ServiceAccount, with the chart's RBAC.
    let kubeconfigPath = this.cluster.kubeconfigPath;
    if (this.cluster === SHARED_CLUSTER) {
      const identity = await chartIdentity(this.managerNamespace, this.configurationName);
      this.releaseIdentity = identity.release;
      kubeconfigPath = identity.kubeconfigPath;
    }
    this.manager = await ManagerProcess.create(
      {
        KUBECONFIG: kubeconfigPath,
        POD_NAMESPACE: this.managerNamespace,
        WEBHOOK_CONFIGURATION_NAME: this.configurationName,
        CA_PROPAGATION_DELAY: '1s',
        LOG_LEVEL: 'log',
        ...env,
      },
      join(controlPlaneInfo().directory, `manager-${this.scope}.log`),
    );
    await this.admission.createMutatingWebhookConfiguration({
      body: buildWebhookConfiguration({
        name: this.configurationName,
        podsMode: 'opt-out',
        virtualMachinesMode: 'opt-out',
        clientConfig: { url: `https://127.0.0.1:${this.manager.port}` },
        timeoutSeconds: 5,
        extraNamespaceSelectorExpressions: [{ key: SCOPE, operator: 'In', values: [this.scope] }],
      }),
    });
    await this.manager.start();
  }

  namespace(prefix: string): Promise<string> {
    return createTestNamespace(prefix, { [SCOPE]: this.scope }, this.cluster.kubeConfig);
  }

  async stop(): Promise<void> {
    await this.admission
      .deleteMutatingWebhookConfiguration({ name: this.configurationName })
      .catch(() => undefined);
    await this.manager?.stop();
    await this.releaseIdentity();
  }

  used = () => this.manager.metric('kubemacpool_pool_used');
  pending = () => this.manager.metric('kubemacpool_pool_entries', '{state="pending"}');
  committed = () => this.manager.metric('kubemacpool_pool_entries', '{state="committed"}');
  shared = () => this.manager.metric('kubemacpool_pool_shared_macs');

  /**
   * What the deadline sweep settled in `group` (`pod/<namespace>` or `vm/<namespace>`), summed over the lines it
   * logged: it logs each namespace it settled anything in. Nothing else logs these lines, so they tell a commit or
   * release by the sweep from one by the watch without looking at the clock.
   */
  sweepSettled(group: string): { released: number; committed: number } {
    const [kind, namespace] = group.split('/');
    const total = { released: 0, committed: 0 };
    for (const record of logRecords(this.manager.logPath)) {
      if (record.message !== SWEEP_SETTLED || record.kind !== kind || record.namespace !== namespace)
        continue;
      total.released += Number(record.released);
      total.committed += Number(record.committed);
    }
    return total;
  }

  /** The Node.js version the manager process runs on (prom-client's default nodejs_version_info gauge). */
  async nodeVersion(): Promise<string | undefined> {
    const text = await (await fetch(`http://127.0.0.1:${this.manager.metricsPort}/metrics`)).text();
    return /^nodejs_version_info\{version="(v[^"]+)"/m.exec(text)?.[1];
  }

  /** Waits until the pool shows `used` MACs, none pending. */
  settled(used: number, timeoutMs = 30_000): Promise<true> {
    return waitUntil(
      `the pool to hold ${used} committed MACs`,
      async () => ((await this.used()) === used && (await this.pending()) === 0 ? true : undefined),
      timeoutMs,
    );
  }
}

beforeAll(() => buildManager(), 120_000);

describe('allocation life cycle with the manager as its own process', () => {
  const env = new LifecycleEnvironment();
  // Pending MACs expire after an hour: the deadline sweep settles nothing while these tests run, so every commit and
  // release they wait for is the watch's (or the rebuild's after a restart), however slow the machine is.
  beforeAll(() =>
    env.start({ RANGE_START: '02:e0:00:00:00:00', RANGE_END: '02:e0:00:ff:ff:ff', WAIT_TIME: '3600' }),
  );
  afterAll(() => env.stop());

  it('runs the manager on the Node.js the tests run on', async () => {
    expect(await env.nodeVersion()).toBe(process.version);
  });

  it('rebuilds exactly the remaining MACs after kill -9, then hands out only unique ones', async () => {
    const namespace = await env.namespace('life-bulk');
    const names = Array.from({ length: 500 }, (_, i) => `o${i}`);
    const vms = await inParallel(names, 8, (name) =>
      custom.createNamespacedCustomObject({ ...VM_API, namespace, body: simpleVm(name) }),
    );
    const pods = await inParallel(names, 8, (name) =>
      core.createNamespacedPod({ namespace, body: podWithNetworks(name, 'net1') }),
    );
    const created = [...vms.flatMap(vmMacs), ...pods.flatMap(podMacs)];
    expect(new Set(created).size).toBe(1000);
    await env.settled(1000);

    const doomed = names.filter((_, i) => i % 2 === 0);
    await inParallel(doomed, 8, (name) =>
      custom.deleteNamespacedCustomObject({ ...VM_API, namespace, name }),
    );
    await inParallel(doomed, 8, (name) => core.deleteNamespacedPod({ namespace, name }));
    await env.settled(500);

    // A VM of an old Kubemacpool (legacy finalizer) is deleted while the manager is down and sticks: the restarted
    // manager must free it from its list, since no watch event will come for it. It has no interface that gets a MAC,
    // so the pool's counts stay as they are.
    const legacyNamespace = await env.namespace('life-legacy');
    const legacy = virtualMachine('legacy', [], []);
    (legacy.metadata as { finalizers?: string[] }).finalizers = ['k8s.v1.cni.cncf.io/kubeMacPool'];
    await custom.createNamespacedCustomObject({ ...VM_API, namespace: legacyNamespace, body: legacy });
    await env.manager.kill();
    await custom.deleteNamespacedCustomObject({ ...VM_API, namespace: legacyNamespace, name: 'legacy' });
    await env.manager.start();
    await waitUntil('the legacy VM to be gone', () =>
      custom.getNamespacedCustomObject({ ...VM_API, namespace: legacyNamespace, name: 'legacy' }).then(
        () => undefined,
        (error: unknown) => ((error as { code?: number }).code === 404 ? true : undefined),
      ),
    );
    // Removed by this manager (another test file's manager could be running alongside). The manager logs once the
    // PATCH has answered, which may be after the VM is already gone for the API server: wait for the line.
    await waitUntil('the manager to log that it removed the legacy finalizer', async () =>
      logRecords(env.manager.logPath).some(
        (r) =>
          r.message === 'removed the legacy finalizer from a VM being deleted' &&
          r.namespace === legacyNamespace &&
          r.name === 'legacy',
      )
        ? true
        : undefined,
    );
    expect(await env.used()).toBe(500);
    expect(await env.committed()).toBe(500);
    expect(await env.pending()).toBe(0);

    const more = names.map((name) => `n${name}`);
    await inParallel(more, 8, (name) =>
      custom.createNamespacedCustomObject({ ...VM_API, namespace, body: simpleVm(name) }),
    );
    await inParallel(more, 8, (name) =>
      core.createNamespacedPod({ namespace, body: podWithNetworks(name, 'net1') }),
    );
    const everyVm = (await custom.listNamespacedCustomObject({ ...VM_API, namespace })) as {
      items: unknown[];
    };
    const everyPod = await core.listNamespacedPod({ namespace });
    const all = [...everyVm.items.flatMap(vmMacs), ...everyPod.items.flatMap(podMacs)];
    expect(all).toHaveLength(1500);
    expect(new Set(all).size).toBe(1500);
    await env.settled(1500);
  }, 240_000);

  it('rebuilds a VM and its virt-launcher pod, listed at once, as one holder of the VM’s MAC', async () => {
    const namespace = await env.namespace('life-launcher');
    const before = await env.used();
    const vm = await custom.createNamespacedCustomObject({ ...VM_API, namespace, body: simpleVm('vm1') });
    const [mac] = vmMacs(vm);
    // KubeVirt's launcher pod: owned by the VMI, carrying the VM's MAC on its Multus network.
    const vmi = (await custom.createNamespacedCustomObject({
      group: 'kubevirt.io',
      version: 'v1',
      plural: 'virtualmachineinstances',
      namespace,
      body: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name: 'vm1' },
        spec: {},
      },
    })) as { metadata: { uid: string } };
    const launcher = podWithNetworks('virt-launcher-vm1-x', JSON.stringify([{ name: 'net1', mac }]));
    await core.createNamespacedPod({
      namespace,
      body: {
        ...launcher,
        metadata: {
          ...launcher.metadata,
          labels: { 'kubevirt.io': 'virt-launcher' },
          ownerReferences: [
            {
              apiVersion: 'kubevirt.io/v1',
              kind: 'VirtualMachineInstance',
              name: 'vm1',
              uid: vmi.metadata.uid,
            },
          ],
        },
      },
    });

    // The rebuild fetches VMs and pods at the same time but applies the VMs first: the launcher pod is the VM's,
    // not a second holder of its MAC.
    await env.manager.kill();
    await env.manager.start();
    await env.settled(before + 1);
    expect(await env.shared()).toBe(0);
  });

  it('keeps and counts a duplicate MAC across a restart, and frees it only when both holders are gone', async () => {
    const namespace = await env.namespace('life-duplicate');
    const before = await env.used();
    const first = await core.createNamespacedPod({ namespace, body: podWithNetworks('first', 'net1') });
    const mac = podMacs(first)[0];
    // The Warn policy admits a requested MAC another object holds.
    const duplicate = podWithNetworks('second', JSON.stringify([{ name: 'net1', mac }]));
    await core.createNamespacedPod({ namespace, body: duplicate });
    await env.settled(before + 1);
    expect(await env.shared()).toBe(1);

    await env.manager.kill();
    await env.manager.start();
    expect(await env.used()).toBe(before + 1);
    expect(await env.shared()).toBe(1);

    await core.deleteNamespacedPod({ namespace, name: 'first' });
    await waitUntil('one holder left', async () => ((await env.shared()) === 0 ? true : undefined));
    expect(await env.used()).toBe(before + 1);
    await core.deleteNamespacedPod({ namespace, name: 'second' });
    await env.settled(before);
  });

  it('commits generateName pods and VMs under their real names and releases them on deletion', async () => {
    const namespace = await env.namespace('life-generate');
    const before = await env.used();
    const pod = await core.createNamespacedPod({ namespace, body: podWithNetworks('', 'net1,net2') });
    const vm = (await custom.createNamespacedCustomObject({
      ...VM_API,
      namespace,
      body: simpleVm(''),
    })) as Vm;
    // Only the watch can commit them within the hour (WAIT_TIME above): without it this wait times out.
    await env.settled(before + 3);
    expect(env.sweepSettled(`pod/${namespace}`)).toEqual({ released: 0, committed: 0 });
    expect(env.sweepSettled(`vm/${namespace}`)).toEqual({ released: 0, committed: 0 });
    await core.deleteNamespacedPod({ namespace, name: pod.metadata!.name! });
    await custom.deleteNamespacedCustomObject({ ...VM_API, namespace, name: vm.metadata.name });
    await env.settled(before);
  });
});

describe('a MAC admitted for an object that is never persisted', () => {
  const env = new LifecycleEnvironment();
  // A short deadline, so the sweep releases what no persisted object holds within the test.
  beforeAll(() =>
    env.start({ RANGE_START: '02:e6:00:00:00:00', RANGE_END: '02:e6:00:ff:ff:ff', WAIT_TIME: '3' }),
  );
  afterAll(() => env.stop());

  it('releases a MAC whose admission a later webhook rejected, once its deadline passed', async () => {
    const namespace = await env.namespace('life-rejected');
    const denier = await startDenyingWebhook();
    try {
      const before = await env.used();
      for (const name of ['rejected', '']) {
        const error = await core
          .createNamespacedPod({
            namespace,
            body: {
              ...podWithNetworks(name, 'net1'),
              metadata: { ...podWithNetworks(name, 'net1').metadata, labels: { deny: 'yes' } },
            },
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(apiErrorMessage(error)).toContain('denied by the test');
      }
      // Both were held pending from their admission, and the sweep released them once past the deadline. The sweep's
      // own count says so, however late the test looks: pending() right after the creates would race the deadline.
      await waitUntil(
        'the sweep to release both MACs',
        async () => (env.sweepSettled(`pod/${namespace}`).released >= 2 ? true : undefined),
        60_000,
      );
      expect(env.sweepSettled(`pod/${namespace}`)).toEqual({ released: 2, committed: 0 });
      await env.settled(before);
    } finally {
      await denier.stop();
    }
  }, 120_000);
});

describe('a small range and day-2 range changes', () => {
  const env = new LifecycleEnvironment();
  beforeAll(() => env.start({ RANGE_START: '02:e1:00:00:00:00', RANGE_END: '02:e1:00:00:ff:ff' }));
  afterAll(() => env.stop());
  const range16 = { RANGE_START: '02:e2:00:00:00:00', RANGE_END: '02:e2:00:00:00:0f' };

  const configMap = (data: Record<string, string>) =>
    core
      .replaceNamespacedConfigMap({
        namespace: env.managerNamespace,
        name: 'kubemacpool-mac-range-config',
        body: { metadata: { name: 'kubemacpool-mac-range-config' }, data },
      })
      .catch(() =>
        core.createNamespacedConfigMap({
          namespace: env.managerNamespace,
          body: { metadata: { name: 'kubemacpool-mac-range-config' }, data },
        }),
      );

  it('moves allocation to a new range, fills it, reuses exactly a freed MAC and then refuses', async () => {
    await configMap(range16);
    await waitUntil('the new range', async () =>
      (await env.manager.metric('kubemacpool_pool_size')) === 16 ? true : undefined,
    );
    const namespace = await env.namespace('life-small');
    const pods = await inParallel(
      Array.from({ length: 16 }, (_, i) => `p${i}`),
      4,
      (name) => core.createNamespacedPod({ namespace, body: podWithNetworks(name, 'net1') }),
    );
    const macs = pods.flatMap(podMacs);
    expect(new Set(macs).size).toBe(16);
    expect(macs.every((m) => MacAddress.parse(m).toString().startsWith('02:e2:00:00:00:0'))).toBe(true);
    const full = await core
      .createNamespacedPod({ namespace, body: podWithNetworks('one-more', 'net1') })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiErrorMessage(full)).toContain('the range is full');

    await core.deleteNamespacedPod({ namespace, name: 'p7' });
    await waitUntil('the freed MAC', async () => ((await env.used()) === 15 ? true : undefined));
    const again = await core.createNamespacedPod({ namespace, body: podWithNetworks('again', 'net1') });
    expect(podMacs(again)).toEqual([podMacs(pods[7])[0]]);
    const still = await core
      .createNamespacedPod({ namespace, body: podWithNetworks('still-one-more', 'net1') })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiErrorMessage(still)).toContain('the range is full');
  });

  it('refuses an invalid range ConfigMap with upstream’s Warning Events and keeps the range', async () => {
    await configMap({ RANGE_START: 'zz:00:00:00:00:00', RANGE_END: '02:e3:00:00:00:0f' });
    await configMap({ RANGE_START: '02:e3:00:00:00:0f', RANGE_END: '02:e3:00:00:00:00' });
    const events = await waitUntil('both Warning Events', async () => {
      const list = await core.listNamespacedEvent({ namespace: env.managerNamespace });
      const reasons = list.items.map((e) => e.reason);
      return reasons.includes('InvalidRange') && reasons.includes('UpdateFailed') ? list.items : undefined;
    });
    const invalid = events.find((e) => e.reason === 'InvalidRange')!;
    expect(invalid.type).toBe('Warning');
    expect(invalid.message).toBe(
      'Invalid MAC range in ConfigMap, ignoring new range values: invalid RANGE_START "zz:00:00:00:00:00": address zz:00:00:00:00:00: invalid MAC address',
    );
    expect(events.find((e) => e.reason === 'UpdateFailed')!.message).toBe(
      'Failed to apply new MAC ranges 02:e3:00:00:00:0f - 02:e3:00:00:00:00: invalid range. rangeStart: 02:e3:00:00:00:0f rangeEnd: 02:e3:00:00:00:00',
    );
    expect(await env.manager.metric('kubemacpool_pool_size')).toBe(16);
  });
});

describe('when the manager’s watches lag behind the API server', () => {
  let proxy: FaultProxy;
  let directory: string;
  let env: LifecycleEnvironment;
  beforeAll(async () => {
    // The manager reaches the API server through a proxy whose open connections can be frozen; the API server still
    // calls the webhook directly, and new connections (the sweep's lists) go through.
    proxy = await FaultProxy.start(controlPlaneInfo().server);
    directory = mkdtempSync(join(tmpdir(), 'kmp-lag-'));
    const kubeconfigPath = join(directory, 'kubeconfig');
    writeFileSync(kubeconfigPath, proxy.kubeConfig(kc).exportConfig());
    env = new LifecycleEnvironment({ kubeConfig: kc, kubeconfigPath });
    await env.start({ RANGE_START: '02:e4:00:00:00:00', RANGE_END: '02:e4:00:00:ff:ff', WAIT_TIME: '2' });
  });
  afterAll(async () => {
    await env.stop();
    await proxy.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('keeps the MACs of generateName objects the watch has not shown by their deadline', async () => {
    const namespace = await env.namespace('life-lag');
    proxy.freeze();
    const pod = await core.createNamespacedPod({ namespace, body: podWithNetworks('', 'net1') });
    const vm = (await custom.createNamespacedCustomObject({
      ...VM_API,
      namespace,
      body: simpleVm(''),
    })) as Vm;
    // Past the deadline (2 s) the sweep lists the namespace afresh and finds both objects holding their MACs: it, not
    // the frozen watch, commits them (its log counts each commit), and binds them to the objects' real names.
    const sweptBoth = async () =>
      env.sweepSettled(`pod/${namespace}`).committed >= 1 &&
      env.sweepSettled(`vm/${namespace}`).committed >= 1
        ? true
        : undefined;
    await waitUntil('the sweep to commit both MACs', sweptBoth, 60_000);
    await env.settled(2);
    // A third object, admitted while the watch is still frozen, is committed by a later sweep: by then at least one
    // more sweep has listed the namespace, and it must have released nothing.
    const other = await core.createNamespacedPod({ namespace, body: podWithNetworks('', 'net1') });
    await waitUntil(
      'a later sweep to commit the third MAC',
      async () => (env.sweepSettled(`pod/${namespace}`).committed >= 2 ? true : undefined),
      60_000,
    );
    expect(env.sweepSettled(`pod/${namespace}`)).toEqual({ released: 0, committed: 2 });
    expect(env.sweepSettled(`vm/${namespace}`)).toEqual({ released: 0, committed: 1 });
    await env.settled(3);
    expect(await env.committed()).toBe(3);
    // The third object got a MAC neither of the first two holds.
    expect([...podMacs(pod), ...vmMacs(vm)]).not.toContain(podMacs(other)[0]);
  }, 150_000);
});

describe('a cluster without KubeVirt', () => {
  let plane: ControlPlane;
  let crds: string;
  let env: LifecycleEnvironment;
  beforeAll(async () => {
    crds = mkdtempSync(join(tmpdir(), 'kmp-crds-'));
    copyFileSync(
      join(REPO_ROOT, 'k8s', 'crds', 'multus-network-attachment-definitions.yaml'),
      join(crds, 'multus-network-attachment-definitions.yaml'),
    );
    plane = await ControlPlane.start({ crdDirectory: crds, controllerManager: false });
    env = new LifecycleEnvironment({
      kubeConfig: ControlPlane.kubeConfig(plane.info),
      kubeconfigPath: plane.info.kubeconfigPath,
    });
    await env.start({ RANGE_START: '02:e5:00:00:00:00', RANGE_END: '02:e5:00:00:ff:ff' });
  }, 120_000);
  afterAll(async () => {
    await env?.stop();
    await plane?.stop();
    rmSync(crds, { recursive: true, force: true });
  });

  it('becomes ready and serves pods, then tracks VMs once the CRD is installed', async () => {
    const kubeConfig = ControlPlane.kubeConfig(plane.info);
    const namespace = await env.namespace('no-kubevirt');
    const pod = await kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespacedPod({ namespace, body: podWithNetworks('p', 'net1') });
    expect(podMacs(pod)).toHaveLength(1);
    await env.settled(1);

    rmSync(join(crds, 'multus-network-attachment-definitions.yaml'));
    copyFileSync(
      join(REPO_ROOT, 'k8s', 'crds', 'kubevirt-virtualmachines.yaml'),
      join(crds, 'kubevirt-virtualmachines.yaml'),
    );
    await plane.installCrds(crds);
    const vm = await waitUntil('the VirtualMachine API', () =>
      kubeConfig
        .makeApiClient(CustomObjectsApi)
        .createNamespacedCustomObject({ ...VM_API, namespace, body: simpleVm('vm') }),
    );
    expect(vmMacs(vm)).toHaveLength(1);
    await env.settled(2, 30_000);
  }, 90_000);
});

describe('npm run demo', () => {
  it('exits 0 and prints the simple VM with a MAC in the range', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(REPO_ROOT, 'dist-dev', 'scripts', 'demo.js')],
      {
        cwd: REPO_ROOT,
      },
    );
    const mac = /"macAddress": "([0-9a-f:]{17})"/.exec(stdout)?.[1];
    expect(mac).toBeDefined();
    expect(mac!.startsWith('02:')).toBe(true);
  }, 120_000);
});

/** A ValidatingWebhookConfiguration that denies pods labelled deny=yes, served from this test process. */
async function startDenyingWebhook(): Promise<{ stop(): Promise<void> }> {
  const key = await x509.generateRsaKeyPair();
  const now = Date.now();
  const cert = x509.signCertificate(
    {
      commonName: 'denier',
      ipAddresses: ['127.0.0.1'],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
    },
    key,
  );
  const server = createServer({ key: key.privateKeyPem, cert }, (req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += String(chunk)));
    req.on('end', () => {
      const uid = (JSON.parse(body) as { request: { uid: string } }).request.uid;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid, allowed: false, status: { code: 403, message: 'denied by the test' } },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const name = `kmp-denier-${randomBytes(4).toString('hex')}`;
  await admission.createValidatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [
        {
          name: 'deny.test.kubemacpool.io',
          clientConfig: {
            url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
            caBundle: Buffer.from(cert).toString('base64'),
          },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          objectSelector: { matchLabels: { deny: 'yes' } },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          failurePolicy: 'Fail',
        },
      ],
    },
  });
  // The API server learns of new webhook configurations through a watch: wait until the denier is in force.
  await waitUntil('the denying webhook to be in force', async () => {
    const probe = await core
      .createNamespacedPod({
        namespace: 'default',
        dryRun: 'All',
        body: {
          ...podWithNetworks('probe', undefined),
          metadata: { name: 'probe', labels: { deny: 'yes' } },
        },
      })
      .then(
        () => false,
        (e: unknown) => apiErrorMessage(e).includes('denied by the test'),
      );
    return probe ? true : undefined;
  });
  return {
    stop: async () => {
      await admission.deleteValidatingWebhookConfiguration({ name });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
