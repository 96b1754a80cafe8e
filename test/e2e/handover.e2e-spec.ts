import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Pod,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { podWithNetworks, virtualMachine } from '../fixtures/objects';
import { chartIdentity } from '../support/chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { logRecords } from '../support/manager-log';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { RoundRobinProxy } from '../support/round-robin-proxy';
import { VM_API, apiErrorMessage, inParallel, waitUntil } from '../support/webhook';

const kc = adminKubeConfig();
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const coordination = kc.makeApiClient(CoordinationV1Api);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const LEASE = 'kubemacpool-mac-controller-manager';
const SCOPE = 'kubemacpool.io/test-scope';

type Vm = {
  metadata: { name: string };
  spec: { template: { spec: { domain: { devices: { interfaces: { macAddress?: string }[] } } } } };
};
const vmMacs = (vm: unknown) =>
  (vm as Vm).spec.template.spec.domain.devices.interfaces.map((i) => i.macAddress);
/** The first MAC of a pod's networks annotation; undefined for the short form (`net1,net2@eth2`), which has none. */
function podMac(pod: V1Pod): string | undefined {
  const annotation = pod.metadata?.annotations?.['k8s.v1.cni.cncf.io/networks'] ?? '[]';
  try {
    return (JSON.parse(annotation) as { mac?: string }[])[0]?.mac;
  } catch {
    return undefined;
  }
}

/**
 * Several managers with the chart's identity behind a round-robin front (the webhook URL), electing a leader with
 * short times (lease 4 s, renew deadline 3 s, retry 2 s). Each describe block gets its own.
 */
class Replicas {
  readonly scope = randomBytes(4).toString('hex');
  readonly configurationName = `kmp-handover-${this.scope}`;
  readonly managers: ManagerProcess[] = [];
  namespace = '';
  managerNamespace = '';
  proxy!: RoundRobinProxy;
  private identity: Awaited<ReturnType<typeof chartIdentity>> | undefined;

  async start(count: number, range: [string, string], env: Record<string, string> = {}): Promise<void> {
    buildManager();
    this.managerNamespace = await createTestNamespace('kmp-handover');
    this.namespace = await createTestNamespace('kmp-handover-work', {
      [SCOPE]: this.scope,
      'mutatepods.kubemacpool.io': 'allocate',
      'mutatevirtualmachines.kubemacpool.io': 'allocate',
    });
    this.identity = await chartIdentity(this.managerNamespace, this.configurationName);
    for (let i = 0; i < count; i++) {
      const name = String.fromCharCode(97 + i);
      this.managers.push(
        await ManagerProcess.create(
          {
            KUBECONFIG: this.identity.kubeconfigPath,
            POD_NAMESPACE: this.managerNamespace,
            WEBHOOK_CONFIGURATION_NAME: this.configurationName,
            RANGE_START: range[0],
            RANGE_END: range[1],
            CA_PROPAGATION_DELAY: '1s',
            LOG_LEVEL: 'log',
            LEADER_ELECTION_IDENTITY: `manager-${name}-${this.scope}`,
            LEADER_ELECTION_LEASE_DURATION: '4s',
            LEADER_ELECTION_RENEW_DEADLINE: '3s',
            LEADER_ELECTION_RETRY_PERIOD: '2s',
            POD_IP: '127.0.0.1',
            ...env,
          },
          join(controlPlaneInfo().directory, `manager-handover-${name}-${this.scope}.log`),
        ),
      );
    }
    this.proxy = await RoundRobinProxy.start(this.managers.map((m) => m.port));
    await admission.createMutatingWebhookConfiguration({
      body: buildWebhookConfiguration({
        name: this.configurationName,
        podsMode: 'opt-in',
        virtualMachinesMode: 'opt-in',
        timeoutSeconds: 30,
        clientConfig: { url: `https://127.0.0.1:${this.proxy.port}` },
        extraNamespaceSelectorExpressions: [{ key: SCOPE, operator: 'In', values: [this.scope] }],
      }),
    });
    for (const manager of this.managers) await manager.start(60_000);
  }

  async stop(): Promise<void> {
    for (const manager of this.managers) await manager.stop();
    await this.proxy?.stop();
    await admission
      .deleteMutatingWebhookConfiguration({ name: this.configurationName })
      .catch(() => undefined);
    await this.identity?.release();
  }

  async holder(): Promise<string> {
    const lease = await coordination.readNamespacedLease({ namespace: this.managerNamespace, name: LEASE });
    return lease.spec?.holderIdentity ?? '';
  }

  async claims(): Promise<{ claimed: string[][]; inherited: string[][] }> {
    const lease = await coordination.readNamespacedLease({ namespace: this.managerNamespace, name: LEASE });
    return JSON.parse(lease.metadata?.annotations?.['kubemacpool.io/claims'] ?? 'null') as {
      claimed: string[][];
      inherited: string[][];
    };
  }

  named(id: string): ManagerProcess {
    return this.managers.find((m) => m.env.LEADER_ELECTION_IDENTITY === id)!;
  }

  /** The leader, once exactly one manager reports itself leading and it holds the Lease. */
  leader(among: ManagerProcess[] = this.managers): Promise<ManagerProcess> {
    return waitUntil(
      'one leader',
      async () => {
        const flags = await Promise.all(
          among.map(async (m) => (await m.metric('kmp_leader').catch(() => -1)) === 1),
        );
        const id = await this.holder();
        const holder = among.find((m) => m.env.LEADER_ELECTION_IDENTITY === id);
        return flags.filter(Boolean).length === 1 && holder !== undefined && flags[among.indexOf(holder)]
          ? holder
          : undefined;
      },
      30_000,
    );
  }
}

describe('the hand-over fence: an answer the old leader sent, delivered after a new leader took over', () => {
  const replicas = new Replicas();
  // Eight MACs: once seven are taken, the one left is the only MAC either leader can hand out.
  const range: [string, string] = ['02:e8:00:00:00:00', '02:e8:00:00:00:07'];

  beforeAll(() => replicas.start(2, range), 120_000);
  afterAll(() => replicas.stop());

  it('holds back the old leader’s claim until its answer is persisted: no MAC is handed out twice', async () => {
    const { namespace, proxy } = replicas;
    const old = await replicas.leader();
    const successor = replicas.managers.find((m) => m !== old)!;
    proxy.route([old.port]);
    const create = (name: string) =>
      core.createNamespacedPod({ namespace, body: podWithNetworks(name, 'net1') as V1Pod });
    for (let i = 1; i <= 7; i++) await create(`pod-${i}`);

    // The old leader answers pod-8 with the last free MAC; the answer stays in the front while it is killed.
    proxy.hold(old.port);
    const late = create('pod-8');
    await once(proxy, 'held');
    await old.kill();
    proxy.route([successor.port]);
    expect(await replicas.leader([successor])).toBe(successor);

    // The new leader has never seen pod-8; its pool shows one MAC free. That MAC is in the old leader's claim,
    // which the Lease handed over: it is held back, not handed out a second time.
    const claims = await replicas.claims();
    expect(claims.inherited.length).toBeGreaterThan(0);
    const refused = await create('pod-9').then(
      () => 'admitted',
      (error: unknown) => apiErrorMessage(error),
    );
    expect(refused).toContain('outside the stretches the previous leader claimed');
    expect(refused).toContain('retry later');

    proxy.release();
    const persisted = await late;
    const lateMac = podMac(persisted);
    expect(lateMac).toMatch(/^02:e8:00:00:00:0[0-7]$/);
    // Once the new leader's watch saw pod-8, the range is full: the answer is "full", never pod-8's MAC.
    await waitUntil('the new leader to see pod-8', async () =>
      (await successor.metric('kubemacpool_pool_used')) === 8 ? true : undefined,
    );
    const full = await create('pod-10').then(
      () => 'admitted',
      (error: unknown) => apiErrorMessage(error),
    );
    expect(full).toContain('the range is full');

    const pods = (await core.listNamespacedPod({ namespace })).items;
    const macs = pods.map(podMac);
    expect(pods.map((p) => p.metadata?.name).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `pod-${i}`));
    expect(new Set(macs).size).toBe(8);
    const holding = logRecords(successor.logPath).filter(
      (record) => record.message === 'holding back the stretches the previous leader claimed',
    );
    expect(holding.at(-1)).toMatchObject({ previous: old.env.LEADER_ELECTION_IDENTITY });
  });
});

describe('a burst of 2,000 VM creates through a round-robin front, the leader SIGKILLed in the middle', () => {
  const replicas = new Replicas();
  const TOTAL = 2_000;
  const KILL_AFTER = 700;

  beforeAll(() => replicas.start(3, ['02:e9:00:00:00:00', '02:e9:00:00:ff:ff']), 120_000);
  afterAll(() => replicas.stop());

  it('persists every admitted VM with a MAC no other object holds; prints the failed creates and the fail-over', async () => {
    const { namespace, proxy } = replicas;
    const old = await replicas.leader();
    let done = 0;
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    const results = await inParallel(
      Array.from({ length: TOTAL }, (_, i) => i),
      16,
      async (i) => {
        const started = Date.now();
        const body = virtualMachine(
          `vm-${i}`,
          [{ name: 'net1', binding: 'bridge' }],
          [{ name: 'net1', multus: 'br1' }],
        );
        const outcome = await custom.createNamespacedCustomObject({ ...VM_API, namespace, body }).then(
          () => ({ ok: true as const, started, ended: Date.now() }),
          (error: unknown) => ({
            ok: false as const,
            started,
            ended: Date.now(),
            error: apiErrorMessage(error),
          }),
        );
        if (++done === KILL_AFTER) {
          killedAt = Date.now();
          killing = old.kill();
        }
        return outcome;
      },
    );
    await killing;
    const failed = results.filter((r) => !r.ok);
    const firstAfter = results
      .filter((r) => r.ok && r.started >= killedAt)
      .reduce((min, r) => Math.min(min, r.ended), Infinity);
    const reasons = new Map<string, number>();
    for (const failure of failed) {
      const reason = failure.error
        .replace(/vm-\d+/g, 'vm-N')
        .replace(/\d+ ms/g, 'N ms')
        .slice(0, 400);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    process.stdout.write(
      [
        `burst: ${TOTAL} VM creates, 16 in flight, leader ${old.env.LEADER_ELECTION_IDENTITY} SIGKILLed after ${KILL_AFTER}`,
        `  admitted ${TOTAL - failed.length}, failed ${failed.length}`,
        ...[...reasons].map(([reason, count]) => `  ${count} × ${reason}`),
        `  fail-over (kill → first create sent after it admitted): ${firstAfter - killedAt} ms (lease 4 s)`,
        `  connections per manager port: ${JSON.stringify(Object.fromEntries(proxy.connectionsTo))}`,
      ].join('\n') + '\n',
    );

    const vms = (await custom.listNamespacedCustomObject({ ...VM_API, namespace })) as { items: Vm[] };
    // What the API server persisted is exactly what it admitted (a failed create left nothing behind).
    expect(vms.items.length).toBe(TOTAL - failed.length);
    const macs = vms.items.flatMap(vmMacs);
    expect(macs.every((mac) => mac !== undefined && /^02:e9:00:00:/.test(mac))).toBe(true);
    expect(new Set(macs).size).toBe(macs.length);
    // No other object in the cluster holds any of them.
    const elsewhere = (
      (await custom.listClusterCustomObject({ ...VM_API })) as {
        items: (Vm & { metadata: { namespace: string } })[];
      }
    ).items
      .filter((vm) => vm.metadata.namespace !== namespace)
      .flatMap(vmMacs);
    const pods = (await core.listPodForAllNamespaces()).items.map(podMac);
    const mine = new Set(macs);
    expect([...elsewhere, ...pods].filter((mac) => mac !== undefined && mine.has(mac))).toEqual([]);
    // The new leader allocated after the kill. Followers wait for it rather than deny, so only the creates the API
    // server had in flight to the killed leader itself can fail: at most the 16 in flight.
    expect(Number.isFinite(firstAfter)).toBe(true);
    expect(failed.length).toBeLessThanOrEqual(16);
  });
});
