import { type CoreV1Event, PatchStrategy, type V1Pod, setHeaderOptions } from '@kubernetes/client-node';
import { randomInt } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import { CollisionsService } from '../../src/modules/collisions/collisions.service';
import { MacAddress } from '../../src/modules/pool/mac-address';
import { podWithNetworks } from '../fixtures/objects';
import { WebhookEnvironment, waitUntil } from '../support/webhook';

const VMI_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' } as const;
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const POD_OPT = 'mutatepods.kubemacpool.io';
const VM_OPT = 'mutatevirtualmachines.kubemacpool.io';
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

describe('MAC collision detection through the real kube-apiserver', () => {
  const env = new WebhookEnvironment();
  let metricsUrl = '';

  beforeAll(async () => {
    await env.start();
    metricsUrl = `http://127.0.0.1:${(env.manager.metricsApp.getHttpServer().address() as AddressInfo).port}/metrics`;
    await env.manager.app.get(CollisionsService).synced;
  });
  afterAll(() => env.stop());

  // --- Pods as Multus and the kubelet make them: created (through the webhook), wired, then Running. ---

  /** Creates a pod requesting `macs` on its networks; `wired` adds network-status as Multus does after attaching. */
  async function runningPod(
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
    await env.core.createNamespacedPod({ namespace, body });
    if (options.wired ?? true) {
      await env.core.patchNamespacedPod(
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
    await setPodPhase(namespace, name, 'Running');
  }

  /** Writes the pod's phase through the status subresource, as the kubelet does. */
  async function setPodPhase(namespace: string, name: string, phase: string): Promise<void> {
    const pod = await env.core.readNamespacedPod({ namespace, name });
    pod.status = { ...pod.status, phase };
    await env.core.replaceNamespacedPodStatus({ namespace, name, body: pod });
  }

  const deletePod = (namespace: string, name: string) =>
    env.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });

  // --- VMIs as KubeVirt makes them: created, then their status written by virt-handler. ---

  async function runningVmi(namespace: string, name: string, status: VmiStatus): Promise<void> {
    await env.custom.createNamespacedCustomObject({
      ...VMI_API,
      namespace,
      body: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name },
        spec: { domain: { devices: {} } },
      },
    });
    await setVmiStatus(namespace, name, status);
  }

  /** Replaces the VMI's status through the status subresource. */
  async function setVmiStatus(namespace: string, name: string, status: VmiStatus): Promise<void> {
    const migrationState =
      status.sourceMigration === undefined && status.targetMigration === undefined
        ? undefined
        : {
            sourceState:
              status.sourceMigration === undefined ? undefined : { migrationUID: status.sourceMigration },
            targetState:
              status.targetMigration === undefined ? undefined : { migrationUID: status.targetMigration },
          };
    const vmi = (await env.custom.getNamespacedCustomObject({ ...VMI_API, namespace, name })) as Record<
      string,
      unknown
    >;
    vmi.status = {
      phase: status.phase ?? 'Running',
      interfaces: status.macs.map((mac, i) => ({ name: i === 0 ? 'default' : `net${i}`, mac })),
      ...(migrationState === undefined ? {} : { migrationState }),
    };
    await env.custom.replaceNamespacedCustomObjectStatus({ ...VMI_API, namespace, name, body: vmi });
  }

  const deleteVmi = (namespace: string, name: string) =>
    env.custom.deleteNamespacedCustomObject({ ...VMI_API, namespace, name });

  // --- What the manager reports. ---

  /** The kmp_mac_collisions value of `mac`, undefined while it has no series. */
  async function collisionGauge(mac: string): Promise<number | undefined> {
    const text = await (await fetch(metricsUrl)).text();
    const line = text.split('\n').find((l) => l.startsWith(`kmp_mac_collisions{mac="${mac}"} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  }

  const gaugeBecomes = (mac: string, value: number | undefined) =>
    waitUntil(`kmp_mac_collisions{mac="${mac}"} to be ${value ?? 'absent'}`, async () =>
      (await collisionGauge(mac)) === value ? true : undefined,
    );

  async function collisionEvents(namespace: string): Promise<CoreV1Event[]> {
    const list = await env.core.listNamespacedEvent({ namespace, fieldSelector: 'reason=MACCollision' });
    return list.items;
  }

  /** Waits for a MACCollision Event with `message` on each of `names` in `namespace`; returns them. */
  async function eventsOn(namespace: string, names: string[], message: string): Promise<CoreV1Event[]> {
    return waitUntil(`MACCollision Events "${message}" on ${names.join(', ')} in ${namespace}`, async () => {
      const events = (await collisionEvents(namespace)).filter((e) => e.message === message);
      const found = names.map((name) => events.find((e) => e.involvedObject.name === name));
      return found.every((e) => e !== undefined) ? (found as CoreV1Event[]) : undefined;
    });
  }

  it('reports two Running wired pods sharing a MAC, ignores an unwired one, and clears on delete', async () => {
    const namespace = await env.namespace('col-pods');
    const mac = nextMac();
    await runningPod(namespace, 'unwired', [mac], { wired: false });
    await runningPod(namespace, 'p1', [mac, nextMac()]);
    await runningPod(namespace, 'p2', [mac]);

    const message = between(mac, `pod/${namespace}/p1`, `pod/${namespace}/p2`);
    const events = await eventsOn(namespace, ['p1', 'p2'], message);
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
    await gaugeBecomes(mac, 2);
    expect(await collisionEvents(namespace)).toHaveLength(2); // one per pod, none on the unwired one

    await deletePod(namespace, 'p2');
    await gaugeBecomes(mac, undefined);
  });

  it('reports two Running VMIs sharing a MAC on both, and clears when one stops running', async () => {
    const namespace = await env.namespace('col-vmis');
    const mac = nextMac();
    await runningVmi(namespace, 'v1', { macs: [mac.toUpperCase()] });
    await runningVmi(namespace, 'v2', { macs: [nextMac(), mac] });

    const message = between(mac, `vmi/${namespace}/v1`, `vmi/${namespace}/v2`);
    const events = await eventsOn(namespace, ['v1', 'v2'], message);
    for (const event of events)
      expect(event.involvedObject).toMatchObject({
        kind: 'VirtualMachineInstance',
        apiVersion: 'kubevirt.io/v1',
      });
    await gaugeBecomes(mac, 2);

    await setVmiStatus(namespace, 'v2', { macs: [mac], phase: 'Succeeded' });
    await gaugeBecomes(mac, undefined);
  });

  it('reports a pod and a VMI in different namespaces sharing a MAC, and clears when the VMI changes its MAC', async () => {
    const podNamespace = await env.namespace('col-cross-pod');
    const vmiNamespace = await env.namespace('col-cross-vmi');
    const mac = nextMac();
    await runningPod(podNamespace, 'web', [mac]);
    await runningVmi(vmiNamespace, 'guest', { macs: [mac] });

    const message = between(mac, `pod/${podNamespace}/web`, `vmi/${vmiNamespace}/guest`);
    await eventsOn(podNamespace, ['web'], message);
    await eventsOn(vmiNamespace, ['guest'], message);
    await gaugeBecomes(mac, 2);

    // A third object joins: a changed collision, reported again on all three.
    await runningPod(podNamespace, 'web2', [mac]);
    const three = between(
      mac,
      `pod/${podNamespace}/web`,
      `pod/${podNamespace}/web2`,
      `vmi/${vmiNamespace}/guest`,
    );
    await eventsOn(podNamespace, ['web', 'web2'], three);
    await eventsOn(vmiNamespace, ['guest'], three);
    await gaugeBecomes(mac, 3);

    await setPodPhase(podNamespace, 'web2', 'Succeeded'); // leaves Running: no longer listed by the watch
    await gaugeBecomes(mac, 2);
    await setVmiStatus(vmiNamespace, 'guest', { macs: [nextMac()] });
    await gaugeBecomes(mac, undefined);
  });

  it('does not count the two VMIs of one live migration, until the migration UIDs are gone', async () => {
    const source = await env.namespace('col-mig-src');
    const target = await env.namespace('col-mig-dst');
    const mac = nextMac();
    const control = nextMac();
    await runningVmi(source, 'vm', { macs: [mac], sourceMigration: 'mig-1', targetMigration: 'mig-1-t' });
    await runningVmi(target, 'vm', { macs: [mac], sourceMigration: 'mig-1' });
    await runningVmi(target, 'other', { macs: [nextMac()], targetMigration: 'mig-2' });
    await runningVmi(source, 'other', { macs: [control], targetMigration: 'mig-3' });
    await runningVmi(target, 'other2', { macs: [control], targetMigration: 'mig-4' });
    // The control pair came later on the same watch: once it is reported, the migration pair was applied.
    await eventsOn(target, ['other2'], between(control, `vmi/${source}/other`, `vmi/${target}/other2`));
    await gaugeBecomes(control, 2);
    expect(await collisionGauge(mac)).toBeUndefined();
    expect((await collisionEvents(target)).filter((e) => e.message?.includes(mac))).toEqual([]);

    await setVmiStatus(target, 'vm', { macs: [mac] }); // migration over, both still running: a real collision
    await eventsOn(source, ['vm'], between(mac, `vmi/${source}/vm`, `vmi/${target}/vm`));
    await gaugeBecomes(mac, 2);
    await deleteVmi(source, 'vm');
    await gaugeBecomes(mac, undefined);
  });

  it('skips virt-launcher pods: their VMI counts instead', async () => {
    const namespace = await env.namespace('col-launcher');
    const mac = nextMac();
    const control = nextMac();
    await runningVmi(namespace, 'vm', { macs: [mac] });
    await runningPod(namespace, 'virt-launcher-vm-abcde', [mac], {
      labels: { 'kubevirt.io': 'virt-launcher' },
    });
    await runningPod(namespace, 'c1', [control]);
    await runningPod(namespace, 'c2', [control]);
    await gaugeBecomes(control, 2);
    expect(await collisionGauge(mac)).toBeUndefined();

    // The same pod without the label is an ordinary pod sharing the VMI's MAC.
    await runningPod(namespace, 'imposter', [mac], { labels: { 'kubevirt.io': 'not-a-launcher' } });
    await gaugeBecomes(mac, 2);
    await eventsOn(
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
    await runningPod(managed, 'a', [mac]);
    await runningPod(podsIgnored, 'b', [mac]);
    await runningPod(managed, 'c1', [control]);
    await runningPod(managed, 'c2', [control]);
    await gaugeBecomes(control, 2);
    expect(await collisionGauge(mac)).toBeUndefined();

    await env.core.patchNamespace(
      { name: podsIgnored, body: { metadata: { labels: { [POD_OPT]: null } } } },
      MERGE_PATCH,
    );
    await eventsOn(podsIgnored, ['b'], between(mac, `pod/${managed}/a`, `pod/${podsIgnored}/b`));
    await gaugeBecomes(mac, 2);
    await env.core.patchNamespace(
      { name: podsIgnored, body: { metadata: { labels: { [POD_OPT]: 'ignore' } } } },
      MERGE_PATCH,
    );
    await gaugeBecomes(mac, undefined);

    // VMIs follow the VM webhook's mode: pods in a namespace opted out of VMs still count, its VMIs do not.
    const shared = nextMac();
    const vmiControl = nextMac();
    await runningPod(vmsIgnored, 'p1', [shared]);
    await runningPod(vmsIgnored, 'p2', [shared]);
    await gaugeBecomes(shared, 2);
    await runningVmi(vmsIgnored, 'vm', { macs: [shared] });
    await runningVmi(managed, 'c1', { macs: [vmiControl] });
    await runningVmi(managed, 'c2', { macs: [vmiControl] });
    await gaugeBecomes(vmiControl, 2);
    expect(await collisionGauge(shared)).toBe(2);

    await env.core.patchNamespace(
      { name: vmsIgnored, body: { metadata: { labels: { [VM_OPT]: 'allocate' } } } },
      MERGE_PATCH,
    );
    await gaugeBecomes(shared, 3);
    await eventsOn(
      vmsIgnored,
      ['p1', 'p2', 'vm'],
      between(shared, `pod/${vmsIgnored}/p1`, `pod/${vmsIgnored}/p2`, `vmi/${vmsIgnored}/vm`),
    );
  });

  it('reports nothing again for collisions it already reported when objects change in other ways', async () => {
    const namespace = await env.namespace('col-quiet');
    const mac = nextMac();
    await runningPod(namespace, 'p1', [mac]);
    await runningPod(namespace, 'p2', [mac]);
    const message = between(mac, `pod/${namespace}/p1`, `pod/${namespace}/p2`);
    await eventsOn(namespace, ['p1', 'p2'], message);
    // An unrelated change to a colliding pod, then a new collision after it on the same watch.
    await env.core.patchNamespacedPod(
      { namespace, name: 'p1', body: { metadata: { labels: { touched: 'yes' } } } },
      MERGE_PATCH,
    );
    const later = nextMac();
    await runningPod(namespace, 'q1', [later]);
    await runningPod(namespace, 'q2', [later]);
    await eventsOn(namespace, ['q1', 'q2'], between(later, `pod/${namespace}/q1`, `pod/${namespace}/q2`));
    expect((await collisionEvents(namespace)).filter((e) => e.message === message)).toHaveLength(2);
  });
});
