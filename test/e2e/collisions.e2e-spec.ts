import {
  AdmissionregistrationV1Api,
  type CoreV1Event,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  type V1Pod,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { randomBytes, randomInt } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { CollisionsService } from '../../src/modules/collisions/collisions.service';
import { MacAddress } from '../../src/modules/pool/mac-address';
import { podWithNetworks } from '../fixtures/objects';
import { REPO_ROOT } from '../support/binaries';
import { createTestNamespace } from '../support/cluster';
import { ControlPlane } from '../support/control-plane';
import { logRecords } from '../support/manager-log';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { WebhookEnvironment, waitUntil } from '../support/webhook';

const VMI_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' } as const;
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const POD_OPT = 'mutatepods.kubemacpool.io';
const VM_OPT = 'mutatevirtualmachines.kubemacpool.io';
/** The label that confines a manager's webhook configuration to one test's namespaces. */
const SCOPE_LABEL = 'kubemacpool.io/test-scope';
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** MACs outside the manager's range, from a random block per run, so nothing else in the cluster holds them. */
const MAC_BASE = 0x02c000000000 + randomInt(0, 0xffff) * 0x10000;
let macCounter = 0;
const nextMac = () => MacAddress.format(MAC_BASE + ++macCounter);
/** Upstream's Event message, written independently of the code under test: refs sorted, joined by ", ". */
const between = (mac: string, ...refs: string[]) => `MAC ${mac}: Collision between ${refs.sort().join(', ')}`;

interface VmiStatus {
  macs: string[];
  phase?: string;
  sourceMigration?: string;
  targetMigration?: string;
}

/**
 * A cluster as KubeVirt, Multus and the kubelet would drive it (objects made Running through their status
 * subresource), and what a manager reports on it: its metrics endpoint and the Events in the API.
 */
class CollisionCluster {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    private readonly metricsUrl: () => string,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  // --- Pods as Multus and the kubelet make them: created (through the webhook), wired, then Running. ---

  /** Creates a pod requesting `macs` on its networks; `wired` adds network-status as Multus does after attaching. */
  async runningPod(
    namespace: string,
    name: string,
    macs: string[],
    options: { wired?: boolean; labels?: Record<string, string> } = {},
  ): Promise<void> {
    const body = podWithNetworks(
      name,
      JSON.stringify(macs.map((mac, i) => ({ name: `net${i + 1}`, mac }))),
    ) as V1Pod;
    body.metadata!.labels = options.labels;
    await this.core.createNamespacedPod({ namespace, body });
    if (options.wired ?? true) {
      await this.core.patchNamespacedPod(
        {
          namespace,
          name,
          body: {
            metadata: { annotations: { [NETWORK_STATUS]: '[{"name":"default","interface":"eth0"}]' } },
          },
        },
        MERGE_PATCH,
      );
    }
    await this.setPodPhase(namespace, name, 'Running');
  }

  /** Writes the pod's phase through the status subresource, as the kubelet does. */
  async setPodPhase(namespace: string, name: string, phase: string): Promise<void> {
    const pod = await this.core.readNamespacedPod({ namespace, name });
    pod.status = { ...pod.status, phase };
    await this.core.replaceNamespacedPodStatus({ namespace, name, body: pod });
  }

  deletePod(namespace: string, name: string) {
    return this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
  }

  // --- VMIs as KubeVirt makes them: created, then their status written by virt-handler. ---

  async runningVmi(namespace: string, name: string, status: VmiStatus): Promise<void> {
    await this.custom.createNamespacedCustomObject({
      ...VMI_API,
      namespace,
      body: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name },
        spec: { domain: { devices: {} } },
      },
    });
    await this.setVmiStatus(namespace, name, status);
  }

  /** Replaces the VMI's status through the status subresource. */
  async setVmiStatus(namespace: string, name: string, status: VmiStatus): Promise<void> {
    const migrationState =
      status.sourceMigration === undefined && status.targetMigration === undefined
        ? undefined
        : {
            sourceState:
              status.sourceMigration === undefined ? undefined : { migrationUID: status.sourceMigration },
            targetState:
              status.targetMigration === undefined ? undefined : { migrationUID: status.targetMigration },
          };
    const vmi = (await this.custom.getNamespacedCustomObject({ ...VMI_API, namespace, name })) as Record<
      string,
      unknown
    >;
    vmi.status = {
      phase: status.phase ?? 'Running',
      interfaces: status.macs.map((mac, i) => ({ name: i === 0 ? 'default' : `net${i}`, mac })),
      ...(migrationState === undefined ? {} : { migrationState }),
    };
    await this.custom.replaceNamespacedCustomObjectStatus({ ...VMI_API, namespace, name, body: vmi });
  }

  deleteVmi(namespace: string, name: string) {
    return this.custom.deleteNamespacedCustomObject({ ...VMI_API, namespace, name });
  }

  // --- What the manager reports. ---

  /** The kmp_mac_collisions value of `mac`, undefined while it has no series. */
  async collisionGauge(mac: string): Promise<number | undefined> {
    const text = await (await fetch(this.metricsUrl())).text();
    const line = text.split('\n').find((l) => l.startsWith(`kmp_mac_collisions{mac="${mac}"} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  }

  gaugeBecomes(mac: string, value: number | undefined) {
    return waitUntil(`kmp_mac_collisions{mac="${mac}"} to be ${value ?? 'absent'}`, async () =>
      (await this.collisionGauge(mac)) === value ? true : undefined,
    );
  }

  async collisionEvents(namespace: string): Promise<CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: 'reason=MACCollision' });
    return list.items;
  }

  /** Waits for a MACCollision Event with `message` on each of `names` in `namespace`; returns them. */
  async eventsOn(namespace: string, names: string[], message: string): Promise<CoreV1Event[]> {
    return waitUntil(`MACCollision Events "${message}" on ${names.join(', ')} in ${namespace}`, async () => {
      const events = (await this.collisionEvents(namespace)).filter((e) => e.message === message);
      const found = names.map((name) => events.find((e) => e.involvedObject.name === name));
      return found.every((e) => e !== undefined) ? (found as CoreV1Event[]) : undefined;
    });
  }
}

describe('MAC collision detection through the real kube-apiserver', () => {
  const env = new WebhookEnvironment();
  const cluster = new CollisionCluster(
    env.kc,
    () =>
      `http://127.0.0.1:${(env.manager.metricsApp!.getHttpServer().address() as AddressInfo).port}/metrics`,
  );

  beforeAll(async () => {
    await env.start();
    await env.manager.app.get(CollisionsService).synced;
  });
  afterAll(() => env.stop());

  it('reports two Running wired pods sharing a MAC, ignores an unwired one, and clears on delete', async () => {
    const namespace = await env.namespace('col-pods');
    const mac = nextMac();
    await cluster.runningPod(namespace, 'unwired', [mac], { wired: false });
    await cluster.runningPod(namespace, 'p1', [mac, nextMac()]);
    await cluster.runningPod(namespace, 'p2', [mac]);

    const message = between(mac, `pod/${namespace}/p1`, `pod/${namespace}/p2`);
    const events = await cluster.eventsOn(namespace, ['p1', 'p2'], message);
    for (const event of events) {
      expect(event).toMatchObject({
        type: 'Warning',
        reason: 'MACCollision',
        reportingComponent: 'kubemacpool',
        source: { component: 'kubemacpool' },
        involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace },
      });
      expect(event.involvedObject.uid).toBeDefined();
    }
    await cluster.gaugeBecomes(mac, 2);
    expect(await cluster.collisionEvents(namespace)).toHaveLength(2); // one per pod, none on the unwired one

    await cluster.deletePod(namespace, 'p2');
    await cluster.gaugeBecomes(mac, undefined);
  });

  it('reports two Running VMIs sharing a MAC on both, and clears when one stops running', async () => {
    const namespace = await env.namespace('col-vmis');
    const mac = nextMac();
    await cluster.runningVmi(namespace, 'v1', { macs: [mac.toUpperCase()] });
    await cluster.runningVmi(namespace, 'v2', { macs: [nextMac(), mac] });

    const message = between(mac, `vmi/${namespace}/v1`, `vmi/${namespace}/v2`);
    const events = await cluster.eventsOn(namespace, ['v1', 'v2'], message);
    for (const event of events)
      expect(event.involvedObject).toMatchObject({
        kind: 'VirtualMachineInstance',
        apiVersion: 'kubevirt.io/v1',
      });
    await cluster.gaugeBecomes(mac, 2);

    await cluster.setVmiStatus(namespace, 'v2', { macs: [mac], phase: 'Succeeded' });
    await cluster.gaugeBecomes(mac, undefined);
  });

  it('reports a pod and a VMI in different namespaces sharing a MAC, and clears when the VMI changes its MAC', async () => {
    const podNamespace = await env.namespace('col-cross-pod');
    const vmiNamespace = await env.namespace('col-cross-vmi');
    const mac = nextMac();
    await cluster.runningPod(podNamespace, 'web', [mac]);
    await cluster.runningVmi(vmiNamespace, 'guest', { macs: [mac] });

    const message = between(mac, `pod/${podNamespace}/web`, `vmi/${vmiNamespace}/guest`);
    await cluster.eventsOn(podNamespace, ['web'], message);
    await cluster.eventsOn(vmiNamespace, ['guest'], message);
    await cluster.gaugeBecomes(mac, 2);

    // A third object joins: a changed collision, reported again on all three.
    await cluster.runningPod(podNamespace, 'web2', [mac]);
    const three = between(
      mac,
      `pod/${podNamespace}/web`,
      `pod/${podNamespace}/web2`,
      `vmi/${vmiNamespace}/guest`,
    );
    await cluster.eventsOn(podNamespace, ['web', 'web2'], three);
    await cluster.eventsOn(vmiNamespace, ['guest'], three);
    await cluster.gaugeBecomes(mac, 3);

    await cluster.setPodPhase(podNamespace, 'web2', 'Succeeded'); // leaves Running: no longer listed by the watch
    await cluster.gaugeBecomes(mac, 2);
    await cluster.setVmiStatus(vmiNamespace, 'guest', { macs: [nextMac()] });
    await cluster.gaugeBecomes(mac, undefined);
  });

  it('does not count the two VMIs of one live migration, until the migration UIDs are gone', async () => {
    const source = await env.namespace('col-mig-src');
    const target = await env.namespace('col-mig-dst');
    const mac = nextMac();
    const control = nextMac();
    await cluster.runningVmi(source, 'vm', {
      macs: [mac],
      sourceMigration: 'mig-1',
      targetMigration: 'mig-1-t',
    });
    await cluster.runningVmi(target, 'vm', { macs: [mac], sourceMigration: 'mig-1' });
    await cluster.runningVmi(target, 'other', { macs: [nextMac()], targetMigration: 'mig-2' });
    await cluster.runningVmi(source, 'other', { macs: [control], targetMigration: 'mig-3' });
    await cluster.runningVmi(target, 'other2', { macs: [control], targetMigration: 'mig-4' });
    // The control pair came later on the same watch: once it is reported, the migration pair was applied.
    await cluster.eventsOn(
      target,
      ['other2'],
      between(control, `vmi/${source}/other`, `vmi/${target}/other2`),
    );
    await cluster.gaugeBecomes(control, 2);
    expect(await cluster.collisionGauge(mac)).toBeUndefined();
    expect((await cluster.collisionEvents(target)).filter((e) => e.message?.includes(mac))).toEqual([]);

    await cluster.setVmiStatus(target, 'vm', { macs: [mac] }); // migration over, both still running: a real collision
    await cluster.eventsOn(source, ['vm'], between(mac, `vmi/${source}/vm`, `vmi/${target}/vm`));
    await cluster.gaugeBecomes(mac, 2);
    await cluster.deleteVmi(source, 'vm');
    await cluster.gaugeBecomes(mac, undefined);
  });

  it('skips virt-launcher pods: their VMI counts instead', async () => {
    const namespace = await env.namespace('col-launcher');
    const mac = nextMac();
    const control = nextMac();
    await cluster.runningVmi(namespace, 'vm', { macs: [mac] });
    await cluster.runningPod(namespace, 'virt-launcher-vm-abcde', [mac], {
      labels: { 'kubevirt.io': 'virt-launcher' },
    });
    await cluster.runningPod(namespace, 'c1', [control]);
    await cluster.runningPod(namespace, 'c2', [control]);
    await cluster.gaugeBecomes(control, 2);
    expect(await cluster.collisionGauge(mac)).toBeUndefined();

    // The same pod without the label is an ordinary pod sharing the VMI's MAC.
    await cluster.runningPod(namespace, 'imposter', [mac], { labels: { 'kubevirt.io': 'not-a-launcher' } });
    await cluster.gaugeBecomes(mac, 2);
    await cluster.eventsOn(
      namespace,
      ['imposter', 'vm'],
      between(mac, `pod/${namespace}/imposter`, `vmi/${namespace}/vm`),
    );
  });

  it('follows each kind’s opt mode, and a namespace relabelled in or out of scope', async () => {
    const managed = await env.namespace('col-opt-in');
    const podsIgnored = await env.namespace('col-opt-pods', { [POD_OPT]: 'ignore' });
    const vmsIgnored = await env.namespace('col-opt-vms', { [VM_OPT]: 'ignore' });
    const mac = nextMac();
    const control = nextMac();

    // Pods: the one in the namespace opted out of pods does not count.
    await cluster.runningPod(managed, 'a', [mac]);
    await cluster.runningPod(podsIgnored, 'b', [mac]);
    await cluster.runningPod(managed, 'c1', [control]);
    await cluster.runningPod(managed, 'c2', [control]);
    await cluster.gaugeBecomes(control, 2);
    expect(await cluster.collisionGauge(mac)).toBeUndefined();

    await cluster.core.patchNamespace(
      { name: podsIgnored, body: { metadata: { labels: { [POD_OPT]: null } } } },
      MERGE_PATCH,
    );
    await cluster.eventsOn(podsIgnored, ['b'], between(mac, `pod/${managed}/a`, `pod/${podsIgnored}/b`));
    await cluster.gaugeBecomes(mac, 2);
    await cluster.core.patchNamespace(
      { name: podsIgnored, body: { metadata: { labels: { [POD_OPT]: 'ignore' } } } },
      MERGE_PATCH,
    );
    await cluster.gaugeBecomes(mac, undefined);

    // VMIs follow the VM webhook's mode: pods in a namespace opted out of VMs still count, its VMIs do not.
    const shared = nextMac();
    const vmiControl = nextMac();
    await cluster.runningPod(vmsIgnored, 'p1', [shared]);
    await cluster.runningPod(vmsIgnored, 'p2', [shared]);
    await cluster.gaugeBecomes(shared, 2);
    await cluster.runningVmi(vmsIgnored, 'vm', { macs: [shared] });
    await cluster.runningVmi(managed, 'c1', { macs: [vmiControl] });
    await cluster.runningVmi(managed, 'c2', { macs: [vmiControl] });
    await cluster.gaugeBecomes(vmiControl, 2);
    expect(await cluster.collisionGauge(shared)).toBe(2);

    await cluster.core.patchNamespace(
      { name: vmsIgnored, body: { metadata: { labels: { [VM_OPT]: 'allocate' } } } },
      MERGE_PATCH,
    );
    await cluster.gaugeBecomes(shared, 3);
    await cluster.eventsOn(
      vmsIgnored,
      ['p1', 'p2', 'vm'],
      between(shared, `pod/${vmsIgnored}/p1`, `pod/${vmsIgnored}/p2`, `vmi/${vmsIgnored}/vm`),
    );
  });

  it('reports nothing again for collisions it already reported when objects change in other ways', async () => {
    const namespace = await env.namespace('col-quiet');
    const mac = nextMac();
    await cluster.runningPod(namespace, 'p1', [mac]);
    await cluster.runningPod(namespace, 'p2', [mac]);
    const message = between(mac, `pod/${namespace}/p1`, `pod/${namespace}/p2`);
    await cluster.eventsOn(namespace, ['p1', 'p2'], message);
    // An unrelated change to a colliding pod, then a new collision after it on the same watch.
    await cluster.core.patchNamespacedPod(
      { namespace, name: 'p1', body: { metadata: { labels: { touched: 'yes' } } } },
      MERGE_PATCH,
    );
    const later = nextMac();
    await cluster.runningPod(namespace, 'q1', [later]);
    await cluster.runningPod(namespace, 'q2', [later]);
    await cluster.eventsOn(
      namespace,
      ['q1', 'q2'],
      between(later, `pod/${namespace}/q1`, `pod/${namespace}/q2`),
    );
    expect((await cluster.collisionEvents(namespace)).filter((e) => e.message === message)).toHaveLength(2);
  });
});

describe('MAC collision detection in a cluster without KubeVirt, with the manager as its own process', () => {
  const scope = randomBytes(4).toString('hex');
  const configurationName = `kmp-col-${scope}`;
  let plane: ControlPlane;
  let crds: string;
  let manager: ManagerProcess;
  let cluster: CollisionCluster;
  let kubeConfig: KubeConfig;

  beforeAll(async () => {
    buildManager();
    crds = mkdtempSync(join(tmpdir(), 'kmp-col-crds-'));
    copyFileSync(
      join(REPO_ROOT, 'k8s', 'crds', 'multus-network-attachment-definitions.yaml'),
      join(crds, 'multus-network-attachment-definitions.yaml'),
    );
    plane = await ControlPlane.start({ crdDirectory: crds, controllerManager: false });
    kubeConfig = ControlPlane.kubeConfig(plane.info);
    const managerNamespace = await createTestNamespace('kmp-col-manager', {}, kubeConfig);
    manager = await ManagerProcess.create(
      {
        KUBECONFIG: plane.info.kubeconfigPath,
        POD_NAMESPACE: managerNamespace,
        WEBHOOK_CONFIGURATION_NAME: configurationName,
        RANGE_START: '02:e6:00:00:00:00',
        RANGE_END: '02:e6:00:00:ff:ff',
        CA_PROPAGATION_DELAY: '1s',
        LOG_LEVEL: 'log',
      },
      join(plane.info.directory, `manager-${scope}.log`),
    );
    await kubeConfig.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
      body: buildWebhookConfiguration({
        name: configurationName,
        podsMode: 'opt-out',
        virtualMachinesMode: 'opt-out',
        clientConfig: { url: `https://127.0.0.1:${manager.port}` },
        timeoutSeconds: 5,
        extraNamespaceSelectorExpressions: [{ key: SCOPE_LABEL, operator: 'In', values: [scope] }],
      }),
    });
    await manager.start();
    cluster = new CollisionCluster(kubeConfig, () => `http://127.0.0.1:${manager.metricsPort}/metrics`);
    await waitUntil('collision detection to sync', async () =>
      logRecords(manager.logPath).some((r) => r.message === 'collision detection synced') ? true : undefined,
    );
  }, 120_000);
  afterAll(async () => {
    await manager?.stop();
    await plane?.stop();
    if (crds !== undefined) rmSync(crds, { recursive: true, force: true });
  });

  it('compares pods without the VMI API, then VMIs too once their CRD is installed', async () => {
    const namespace = await createTestNamespace('col-no-kubevirt', { [SCOPE_LABEL]: scope }, kubeConfig);
    const mac = nextMac();
    await cluster.runningPod(namespace, 'p1', [mac]);
    await cluster.runningPod(namespace, 'p2', [mac]);
    await cluster.eventsOn(
      namespace,
      ['p1', 'p2'],
      between(mac, `pod/${namespace}/p1`, `pod/${namespace}/p2`),
    );
    await cluster.gaugeBecomes(mac, 2);
    expect(
      logRecords(manager.logPath).some(
        (r) => r.message === 'KubeVirt is not installed: collision detection compares pods only',
      ),
    ).toBe(true);

    rmSync(join(crds, 'multus-network-attachment-definitions.yaml'));
    copyFileSync(
      join(REPO_ROOT, 'k8s', 'crds', 'kubevirt-virtualmachineinstances.yaml'),
      join(crds, 'kubevirt-virtualmachineinstances.yaml'),
    );
    await plane.installCrds(crds);
    await waitUntil('the VirtualMachineInstance API', () =>
      cluster.custom.listNamespacedCustomObject({ ...VMI_API, namespace }),
    );
    await cluster.runningVmi(namespace, 'vm', { macs: [mac] });
    await cluster.gaugeBecomes(mac, 3);
    await cluster.eventsOn(
      namespace,
      ['p1', 'p2', 'vm'],
      between(mac, `pod/${namespace}/p1`, `pod/${namespace}/p2`, `vmi/${namespace}/vm`),
    );
  }, 90_000);
});
